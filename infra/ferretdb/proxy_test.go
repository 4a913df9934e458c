package main

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

const testTimeout = 300 * time.Millisecond

// fakeFerretDB answers every command with {ok: 1}: late if it names a collection
// "slow", never if it names a collection "stuck".
type fakeFerretDB struct {
	mu       sync.Mutex
	received []string
}

func (f *fakeFerretDB) serve(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			for {
				req, err := readMsg(conn)
				if err != nil {
					return
				}
				body := bson.Raw(req[21:])
				first := body.Index(0)
				coll, _ := first.Value().StringValueOK()
				f.mu.Lock()
				f.received = append(f.received, first.Key()+" "+coll)
				f.mu.Unlock()
				switch coll {
				case "stuck":
					_, _ = io.Copy(io.Discard, conn) // never answers
					return
				case "slow":
					time.Sleep(3 * testTimeout)
				}
				doc, _ := bson.Marshal(bson.D{{Key: "ok", Value: 1.0}})
				rsp := make([]byte, 21, 21+len(doc))
				binary.LittleEndian.PutUint32(rsp[0:4], uint32(21+len(doc)))
				copy(rsp[8:12], req[4:8])
				binary.LittleEndian.PutUint32(rsp[12:16], opMsg)
				rsp = append(rsp, doc...)
				if _, err := conn.Write(rsp); err != nil {
					return
				}
			}
		}()
	}
}

func (f *fakeFerretDB) saw(cmd string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.received {
		if r == cmd {
			return true
		}
	}
	return false
}

// startProxy runs the proxy in front of a fake FerretDB; it returns the proxy's address.
func startProxy(t *testing.T) (string, *fakeFerretDB, *proxy, *logBuffer) {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "f.sock")
	upstream, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeFerretDB{}
	go fake.serve(upstream)
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	p := &proxy{
		upstreamPath: socket,
		writeTimeout: testTimeout,
		locks:        &dbLocks{locks: map[string]chan struct{}{}},
		logger:       logger,
	}
	go func() {
		for {
			conn, err := front.Accept()
			if err != nil {
				return
			}
			go p.serveConn(conn)
		}
	}()
	t.Cleanup(func() { front.Close(); upstream.Close() })
	return front.Addr().String(), fake, p, logs
}

// logBuffer collects the proxy's log lines for a test to read while it runs.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *logBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *logBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

var nextID uint32

func command(t *testing.T, cmd, coll, db string) []byte {
	t.Helper()
	doc, err := bson.Marshal(bson.D{{Key: cmd, Value: coll}, {Key: "$db", Value: db}})
	if err != nil {
		t.Fatal(err)
	}
	nextID++
	msg := make([]byte, 21, 21+len(doc))
	binary.LittleEndian.PutUint32(msg[0:4], uint32(21+len(doc)))
	binary.LittleEndian.PutUint32(msg[4:8], nextID)
	binary.LittleEndian.PutUint32(msg[12:16], opMsg)
	return append(msg, doc...)
}

// call sends one command on a new connection and returns the reply's body (nil if the
// connection closed without one), the connection and how long the answer took.
func call(t *testing.T, addr string, req []byte) (bson.Raw, net.Conn, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	started := time.Now()
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * testTimeout))
	rsp, err := readMsg(conn)
	took := time.Since(started)
	if err != nil {
		return nil, conn, took
	}
	if got, want := binary.LittleEndian.Uint32(rsp[8:12]), binary.LittleEndian.Uint32(req[4:8]); got != want {
		t.Fatalf("responseTo %d, want %d", got, want)
	}
	return bson.Raw(rsp[21:]), conn, took
}

func TestAWriteFerretDBNeverAnswersReleasesTheDatabaseLock(t *testing.T) {
	addr, fake, _, logs := startProxy(t)

	stuck := make(chan bson.Raw)
	var stuckTook time.Duration
	var stuckConn net.Conn
	started := time.Now()
	go func() {
		body, conn, took := call(t, addr, command(t, "update", "stuck", "shop"))
		stuckTook, stuckConn = took, conn
		stuck <- body
	}()
	for !fake.saw("update stuck") {
		time.Sleep(5 * time.Millisecond)
	}

	// another database is not held up
	other, _, took := call(t, addr, command(t, "insert", "orders", "other"))
	if ok, _ := other.Lookup("ok").DoubleOK(); ok != 1 || took > testTimeout/2 {
		t.Fatalf("write to another database: %v after %s", other, took)
	}
	// a write to the same database, sent half-way through the stuck one's time-out,
	// waits for the lock, then passes once it is released
	time.Sleep(time.Until(started.Add(testTimeout / 2)))
	same, _, took := call(t, addr, command(t, "insert", "orders", "shop"))
	if ok, _ := same.Lookup("ok").DoubleOK(); ok != 1 {
		t.Fatalf("write to the same database after the time-out: %v", same)
	}
	if took > 2*testTimeout {
		t.Fatalf("the same database stayed locked %s", took)
	}

	body := <-stuck
	if body == nil {
		t.Fatal("the stuck write got no answer")
	}
	if code, _ := body.Lookup("code").Int32OK(); code != codeMaxTimeMSExpired {
		t.Fatalf("stuck write answered %v", body)
	}
	if stuckTook < testTimeout || stuckTook > 3*testTimeout {
		t.Fatalf("stuck write answered after %s, want about %s", stuckTook, testTimeout)
	}
	if _, err := readMsg(stuckConn); err == nil {
		t.Fatal("the connection of the stuck write is still open")
	}
	if !strings.Contains(logs.String(), "proxy: write timed out") || !strings.Contains(logs.String(), "db=shop") {
		t.Fatalf("no log line: %q", logs.String())
	}
}

func TestAWriteWaitingTooLongForTheLockIsNeverSent(t *testing.T) {
	addr, fake, p, _ := startProxy(t)
	p.locks.get("shop") <- struct{}{} // held by someone else for ever

	body, _, took := call(t, addr, command(t, "delete", "orders", "shop"))

	if code, _ := body.Lookup("code").Int32OK(); code != codeMaxTimeMSExpired {
		t.Fatalf("answer %v", body)
	}
	if !strings.Contains(body.Lookup("errmsg").StringValue(), "not sent to FerretDB") {
		t.Fatalf("answer %v", body)
	}
	if took < testTimeout || took > 3*testTimeout {
		t.Fatalf("answered after %s", took)
	}
	if fake.saw("delete orders") {
		t.Fatal("the write reached FerretDB after its client was told it timed out")
	}
}

func TestAWriteWhoseClientLeavesWhileWaitingForTheLockIsNeverSent(t *testing.T) {
	addr, fake, p, logs := startProxy(t)
	p.writeTimeout = 20 * testTimeout
	lock := p.locks.get("shop")
	lock <- struct{}{} // held by a slow write of someone else

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(command(t, "update", "orders", "shop")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(testTimeout / 2)
	conn.Close() // the driver's own time-out
	for !strings.Contains(logs.String(), "client left") {
		time.Sleep(5 * time.Millisecond)
	}
	<-lock // the slow write ends

	after, _, _ := call(t, addr, command(t, "insert", "orders", "shop"))
	if ok, _ := after.Lookup("ok").DoubleOK(); ok != 1 {
		t.Fatalf("%v", after)
	}
	if fake.saw("update orders") {
		t.Fatal("a write whose client had left reached FerretDB")
	}
}

func TestReadsAndPromptWritesKeepNoDeadline(t *testing.T) {
	addr, _, _, _ := startProxy(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, req := range [][]byte{
		command(t, "insert", "orders", "shop"),
		command(t, "find", "slow", "shop"), // slower than the write time-out: reads have none
		command(t, "insert", "orders", "shop"),
	} {
		if _, err := conn.Write(req); err != nil {
			t.Fatal(err)
		}
		rsp, err := readMsg(conn)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := bson.Raw(rsp[21:]).Lookup("ok").DoubleOK(); ok != 1 {
			t.Fatalf("%v", bson.Raw(rsp[21:]))
		}
	}
}
