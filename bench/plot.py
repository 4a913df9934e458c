"""A PNG of end-to-end latency against offered rate (matplotlib, headless)."""

from collections.abc import Sequence


def latency_plot(points: Sequence[tuple[float, float, float, float]], path: str) -> None:
    """Write `path`: p50, p95 and p99 latency (ms) against the rate (commands/s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = [p[0] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for index, label in ((1, "p50"), (2, "p95"), (3, "p99")):
        ax.plot(rates, [p[index] for p in points], marker="o", label=label)
    ax.set_xlabel("offered rate (declare_inventory commands/s)")
    ax.set_ylabel("command published → fact seen (ms)")
    ax.set_title("enterprise service, end-to-end latency against rate")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
