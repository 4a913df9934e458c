"""The small changes the local build makes to FerretDB v1.24's module source.

`infra/artifacts.py` copies the module into the cache and applies these in order, each
replacing text it must find exactly `count` times (else the build stops: a new FerretDB
version means revisiting them). Each says what it fixes and what was measured; the
README ("Local infrastructure") tells the whole story. The patched copy lives in the
cache only.
"""

import hashlib
from dataclasses import dataclass

from infra.ferretdb_update_go import DEFERRED_UPDATES_GO


@dataclass(frozen=True)
class Patch:
    """Replace `old` (found exactly `count` times) by `new` in one file of FerretDB's module."""

    file: str
    old: str
    new: str
    count: int = 1


# The patched copy lives in the cache only; FerretDB's handlers stay otherwise untouched.

PATCHES = (
    # FerretDB v1.24's SQLite backend turns an `_id` equality into SQL only when `_id` is
    # the filter's sole key, so every compare-and-set (`{_id, version}`) reads the whole
    # collection (measured: ~20 ms per update with 500 documents, growing with the
    # count). Its handlers filter every row again in Go, so pushing the `_id` equality
    # down whenever it is present returns the same documents. (`Len` first: a command
    # without a filter, `count` say, passes a nil document, and `Has` is not nil-safe.)
    Patch(
        "internal/backends/sqlite/collection.go",
        'if params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")',
        'if params.Filter.Len() > 0 && params.Filter.Has("_id") {\n'
        '\t\tv, _ := params.Filter.Get("_id")',
        count=2,
    ),
    # Its SQLite backend creates the `_id` index on `_ferretdb_sjson->"_id"` but filters
    # and updates by `_ferretdb_sjson->'$._id'`: the same value, another expression, so
    # SQLite never uses the index and every query and every update by `_id` reads the
    # whole collection (measured: 45 updates/s on 5,000 documents, 20 ms each; `EXPLAIN
    # QUERY PLAN` says SCAN). `->'_id'` is the index's own expression: SEARCH … USING INDEX.
    Patch(
        "internal/backends/sqlite/metadata/metadata.go",
        "IDColumn = DefaultColumn + \"->'$._id'\"",
        "IDColumn = DefaultColumn + \"->'_id'\"",
    ),
    # Nor does it push down `{_id: {$in: [...]}}`: the platform's one-query lookups (what
    # was finished before, in `processed`; the versions of remembered documents) read
    # the whole collection, so their cost grew with its size (measured: 90-150 ms for
    # 130 keys over a few thousand documents). As `IN (…)` the _id index serves them; the
    # handlers still filter every row in Go, so the result is the same.
    Patch(
        "internal/backends/sqlite/collection.go",
        "\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}\n"
        "\t\t}\n\t}\n\n\tq += whereClause\n",
        "\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}\n"
        "\t\tcase *types.Document:\n"
        "\t\t\t// patched: `{_id: {$in: [strings or ObjectIds]}}` as `IN (…)`\n"
        "\t\t\td := v.(*types.Document)\n"
        "\t\t\tvar in []any\n"
        '\t\t\tif d.Len() == 1 && d.Has("$in") {\n'
        '\t\t\t\tarr, _ := must.NotFail(d.Get("$in")).(*types.Array)\n'
        "\t\t\t\tfor i := 0; arr != nil && arr.Len() <= 500 && i < arr.Len(); i++ {\n"
        "\t\t\t\t\tswitch id := must.NotFail(arr.Get(i)).(type) {\n"
        "\t\t\t\t\tcase string, types.ObjectID:\n"
        "\t\t\t\t\t\tin = append(in, string(must.NotFail(sjson.MarshalSingleValue(id))))\n"
        "\t\t\t\t\tdefault:\n"
        "\t\t\t\t\t\tin, arr = nil, nil\n"
        "\t\t\t\t\t}\n"
        "\t\t\t\t}\n"
        "\t\t\t}\n"
        "\t\t\tif len(in) > 0 {\n"
        "\t\t\t\twhereClause = fmt.Sprintf(` WHERE %s IN (?%s)`, metadata.IDColumn, "
        'strings.Repeat(", ?", len(in)-1))\n'
        "\t\t\t\targs = in\n"
        "\t\t\t}\n"
        "\t\t}\n\t}\n\n\tq += whereClause\n",
    ),
    # Its PostgreSQL backend turns `{_id: "x"}` into `_jsonb->'_id' @> '"x"'`, which the
    # btree index on `(_jsonb->'_id')` cannot serve (a sequential scan per query). For a
    # string or ObjectId `_id` (never an array), `=` matches the same rows and uses it.
    Patch(
        "internal/backends/postgresql/query.go",
        "\t\t// don't change the default eq query\n"
        "\t\tfilter = fmt.Sprintf(sql, metadata.DefaultColumn, operator, p.Next(), p.Next())\n"
        "\t\targs = append(args, k, string(must.NotFail(sjson.MarshalSingleValue(v))))\n",
        "\t\t// patched: `_jsonb->'_id' = …` uses the _id index\n"
        '\t\tif _, isTime := v.(time.Time); k == "_id" && !isTime {\n'
        "\t\t\tfilter = fmt.Sprintf(`%s = %s`, metadata.IDColumn, p.Next())\n"
        "\t\t\targs = append(args, string(must.NotFail(sjson.MarshalSingleValue(v))))\n"
        "\t\t\tbreak\n"
        "\t\t}\n\n"
        "\t\t// don't change the default eq query\n"
        "\t\tfilter = fmt.Sprintf(sql, metadata.DefaultColumn, operator, p.Next(), p.Next())\n"
        "\t\targs = append(args, k, string(must.NotFail(sjson.MarshalSingleValue(v))))\n",
    ),
    # `update` closes each statement's query (an open SQLite read, one pooled connection)
    # only when the whole command ends, and writes on another pooled connection; the pool
    # holds 100 per database, so the 100th single-document statement waits for ever for a
    # connection, and the database stays wedged (README, "FerretDB hangs"; on PostgreSQL
    # the pool holds 50 for all databases: the 50th wedges them all). Closing each
    # statement's query once the statement is done releases its connection at once.
    Patch(
        "internal/handler/msg_update.go",
        "\t\tcloser := iterator.NewMultiCloser()\n\t\tdefer closer.Close()\n",
        "\t\tcloser := iterator.NewMultiCloser()\n",
    ),
    Patch(
        "internal/handler/msg_update.go",
        '\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)\n',
        '\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)\n'
        "\t\tcloser.Close() // patched: release this statement's read connection now\n",
    ),
    # `update` writes each statement in a transaction of its own: a bulk of 60
    # compare-and-sets is 60 SQLite commits (each an fsync of the WAL, and every thousand
    # pages a checkpoint), about a third of its time (measured with pprof: 1.8 ms per
    # statement of a 1.4 kB document). The statements of one command that each name one
    # document by a plain `_id` (string or ObjectId), not upserting, are written together
    # in one transaction at the end of the command, or before the first statement that
    # could read what they wrote (another statement on the same `_id`, a filter without
    # one, an upsert). Within a command nothing else writes in between: the proxy holds
    # the database's write lock for the whole command. A statement that fails still has
    # those before it written, as before.
    Patch(
        "internal/handler/msg_update.go",
        "// updateDocument iterate through all documents in collection and update them.\n",
        DEFERRED_UPDATES_GO
        + "// updateDocument iterate through all documents in collection and update them.\n",
    ),
    Patch(
        "internal/handler/msg_update.go",
        "\tfor _, u := range params.Updates {\n\t\tc, err := db.Collection(params.Collection)\n",
        "\tdeferred := &deferredUpdates{ids: map[string]struct{}{}} // patched\n\n"
        "\tfor _, u := range params.Updates {\n\t\tc, err := db.Collection(params.Collection)\n",
    ),
    Patch(
        "internal/handler/msg_update.go",
        "\t\tres, err := c.Query(ctx, &qp)\n",
        "\t\ttarget, later := deferred.target(c, &u) // patched\n"
        "\t\tif later {\n"
        "\t\t\tif doc, version, ok := fastReplacement(&u); ok {\n"
        "\t\t\t\tdeferred.replace(c, doc, version, u)\n"
        "\t\t\t\tcontinue\n"
        "\t\t\t}\n"
        "\t\t} else {\n"
        "\t\t\tm, n, ferr := deferred.flush(ctx, !h.DisablePushdown)\n"
        "\t\t\tmatched, modified = matched+m, modified+n\n"
        "\t\t\tif ferr != nil {\n"
        "\t\t\t\treturn 0, 0, nil, lazyerrors.Error(ferr)\n"
        "\t\t\t}\n"
        "\t\t}\n\n"
        "\t\tres, err := c.Query(ctx, &qp)\n",
    ),
    Patch(
        "internal/handler/msg_update.go",
        '\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)\n'
        "\t\tcloser.Close() // patched: release this statement's read connection now\n"
        "\t\tif err != nil {\n",
        '\t\tresult, err := common.UpdateDocument(ctx, target, "update", iter, &u)\n'
        "\t\tcloser.Close() // patched: release this statement's read connection now\n"
        "\t\tif err != nil {\n"
        "\t\t\tif _, _, ferr := deferred.flush(ctx, !h.DisablePushdown); ferr != nil { // patched\n"
        "\t\t\t\treturn 0, 0, nil, lazyerrors.Error(ferr)\n"
        "\t\t\t}\n",
    ),
    Patch(
        "internal/handler/msg_update.go",
        "\treturn matched, modified, &upserted, nil\n",
        "\tm, n, err := deferred.flush(ctx, !h.DisablePushdown) // patched\n"
        "\tif err != nil {\n"
        "\t\treturn 0, 0, nil, lazyerrors.Error(err)\n"
        "\t}\n"
        "\tmatched, modified = matched+m, modified+n\n\n"
        "\treturn matched, modified, &upserted, nil\n",
    ),
    # A compare-and-set that replaces a whole document (`{_id, version}` → the document,
    # which the platform's unit of work writes) no longer reads and decodes the stored
    # document (half of an update's time, pprof): the SQLite backend writes it with one
    # `UPDATE … WHERE _id = ? AND version = ? AND document != ?`. A replacement not made
    # so (its version moved, nothing would change) is then run as unpatched, so what it
    # matches and changes is as before (an array `version` holding the number, say).
    Patch(
        "internal/backends/collection.go",
        "type UpdateAllParams struct {\n\tDocs []*types.Document\n}\n",
        "type UpdateAllParams struct {\n\tDocs []*types.Document\n\n"
        "\t// patched: per document, nil or the integer `version` it must have to be replaced\n"
        "\t// (only if ConditionalUpdates)\n"
        "\tIfVersion []any\n}\n\n"
        "// ConditionalUpdates is true when the backend honours UpdateAllParams.IfVersion.\n"
        "var ConditionalUpdates bool // patched\n",
    ),
    Patch(
        "internal/backends/collection.go",
        "type UpdateAllResult struct {\n\tUpdated int32\n}\n",
        "type UpdateAllResult struct {\n\tUpdated int32\n\n"
        "\t// patched: with IfVersion, whether each document was written\n"
        "\tEach []bool\n}\n",
    ),
    Patch(
        "internal/backends/sqlite/backend.go",
        "\treturn backends.BackendContract(&backend{\n\t\tr: r,\n\t}), nil\n",
        "\tbackends.ConditionalUpdates = true // patched\n\n"
        "\treturn backends.BackendContract(&backend{\n\t\tr: r,\n\t}), nil\n",
    ),
    Patch(
        "internal/backends/sqlite/collection.go",
        "\terr := db.InTransaction(ctx, func(tx *fsql.Tx) error {\n"
        "\t\tfor _, doc := range params.Docs {\n",
        "\t// patched: a replacement made only if the stored version is the expected one\n"
        "\tqv := q + fmt.Sprintf(` AND %s->>'$.version' = ? AND %s != ?`,\n"
        "\t\tmetadata.DefaultColumn, metadata.DefaultColumn)\n\n"
        "\terr := db.InTransaction(ctx, func(tx *fsql.Tx) error {\n"
        "\t\tfor i, doc := range params.Docs {\n",
    ),
    Patch(
        "internal/backends/sqlite/collection.go",
        "\t\t\tr, err := tx.ExecContext(ctx, q, string(b), arg)\n",
        "\t\t\tquery, args := q, []any{string(b), arg} // patched\n"
        "\t\t\tif params.IfVersion != nil && params.IfVersion[i] != nil {\n"
        "\t\t\t\tquery, args = qv, append(args, params.IfVersion[i], string(b))\n"
        "\t\t\t}\n"
        "\t\t\tr, err := tx.ExecContext(ctx, query, args...)\n",
    ),
    Patch(
        "internal/backends/sqlite/collection.go",
        "\t\t\tres.Updated += int32(ra)\n",
        "\t\t\tres.Updated += int32(ra)\n"
        "\t\t\tif params.IfVersion != nil { // patched\n"
        "\t\t\t\tres.Each = append(res.Each, ra > 0)\n"
        "\t\t\t}\n",
    ),
    # Every SQL statement is logged at debug level with its arguments (a whole document
    # for an UPDATE) formatted by `slog.Logger.With` before the level is checked: about a
    # tenth of FerretDB's time under load (pprof), for lines nobody sees at our level.
    Patch(
        "internal/util/fsql/tx.go",
        "tx.l.With(fields...).DebugContext(ctx, ",
        "debugLog(ctx, tx.l, fields, ",
        count=6,
    ),
    Patch(
        "internal/util/fsql/db.go",
        "db.l.With(fields...).DebugContext(ctx, ",
        "debugLog(ctx, db.l, fields, ",
        count=6,
    ),
    Patch(
        "internal/util/fsql/tx.go",
        "// Tx wraps [*database/sql.Tx] with resource tracking.\n",
        "// debugLog logs msg with fields at debug level, formatting them only if it is on.\n"
        "func debugLog(ctx context.Context, l *slog.Logger, fields []any, msg string) {\n"
        "\tif l.Enabled(ctx, slog.LevelDebug) { // patched\n"
        "\t\tl.With(fields...).DebugContext(ctx, msg)\n"
        "\t}\n"
        "}\n\n"
        "// Tx wraps [*database/sql.Tx] with resource tracking.\n",
    ),
    # Every query iterator is "tracked": a pprof profile entry with the caller's stack
    # and a finalizer that panics if it was never closed, about a tenth of an update's
    # CPU time (runtime.Callers). A leak detector for FerretDB's developers, off here.
    Patch(
        "internal/util/resource/resource.go",
        "func Track(obj any, token *Token) {\n",
        "func Track(obj any, token *Token) {\n\tif !tracking { // patched\n\t\treturn\n\t}\n\n",
    ),
    Patch(
        "internal/util/resource/resource.go",
        "func Untrack(obj any, token *Token) {\n",
        "const tracking = false // patched: see Track\n\n"
        "func Untrack(obj any, token *Token) {\n\tif !tracking {\n\t\treturn\n\t}\n\n",
    ),
)
PATCHES_ID = hashlib.sha256(repr(PATCHES).encode()).hexdigest()[:8]
