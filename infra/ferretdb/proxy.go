package main

// FerretDB v1.24 runs update, findAndModify and delete as "query, then write back by
// _id" without a lock, so two concurrent conditional updates of one document can both
// apply (measured: ten concurrent $inc -3000 guarded by {room: {$gte: 3000}} on 10000
// granted 6 to 10 of them). The services rely on single-document atomic updates, so
// this proxy serialises every mutating command per database: a write command's request
// and its whole response pass while that database's lock is held. Reads pass freely.
//
// A write that FerretDB never answers (its SQLite pool for that database exhausted, see
// README) would keep the database locked for ever and queue every later write behind
// it. So a write may wait for the lock and its answer for at most writeTimeout: then the
// proxy answers the client with MaxTimeMSExpired (the command may still be applied
// later), closes that client connection and its upstream connection, releases the lock
// and logs it.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

const (
	opMsg       = 2013
	moreToCome  = 1 << 1
	maxMsgBytes = 48 * 1000 * 1000
	// MongoDB's MaxTimeMSExpired: drivers report it as a time-out and do not retry it
	codeMaxTimeMSExpired = 50
)

var mutating = map[string]bool{
	"insert": true, "update": true, "delete": true, "findandmodify": true,
	"createindexes": true, "dropindexes": true, "create": true, "drop": true,
	"dropdatabase": true, "renamecollection": true, "collmod": true,
}

// dbLocks holds one lock per database: a channel of capacity one, so that waiting for
// it can give up at a deadline.
type dbLocks struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

func (l *dbLocks) get(db string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.locks[db]
	if !ok {
		m = make(chan struct{}, 1)
		l.locks[db] = m
	}
	return m
}

type proxy struct {
	upstreamPath string
	writeTimeout time.Duration
	locks        *dbLocks
	logger       *slog.Logger
}

// readMsg reads one whole wire-protocol message (header included).
func readMsg(r io.Reader) ([]byte, error) {
	var header [4]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	size := int(binary.LittleEndian.Uint32(header[:]))
	if size < 16 || size > maxMsgBytes {
		return nil, fmt.Errorf("bad message length %d", size)
	}
	msg := make([]byte, size)
	copy(msg, header[:])
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func flags(msg []byte) uint32 {
	if binary.LittleEndian.Uint32(msg[12:16]) != opMsg || len(msg) < 20 {
		return 0
	}
	return binary.LittleEndian.Uint32(msg[16:20])
}

// writeTarget returns the database and command name of a mutating OP_MSG command, or
// "" for anything else.
func writeTarget(msg []byte) (string, string) {
	if len(msg) < 26 || binary.LittleEndian.Uint32(msg[12:16]) != opMsg || msg[20] != 0 {
		return "", ""
	}
	body := bson.Raw(msg[21:])
	first, err := body.IndexErr(0)
	if err != nil || !mutating[strings.ToLower(first.Key())] {
		return "", ""
	}
	db, ok := body.Lookup("$db").StringValueOK()
	if !ok {
		return "", ""
	}
	return db, first.Key()
}

// waitForLock waits for db's lock until the write's time-out, or until its client leaves.
func (p *proxy) waitForLock(db, cmd string, req []byte, lock chan struct{}, timeout <-chan time.Time,
	client net.Conn, incoming *bufio.Reader, started time.Time,
) error {
	gone, stopWatching := watchGone(client, incoming)
	defer stopWatching()
	select {
	case lock <- struct{}{}:
		return nil
	case <-gone:
		// its client gave up (its own time-out): a write nobody waits for is never sent
		p.logger.Info("proxy: client left while its write waited for the lock; not sent",
			"db", db, "command", cmd, "waited", time.Since(started).Round(time.Millisecond).String())
		return errors.New("client closed the connection")
	case <-timeout:
		return p.giveUp(db, cmd, req, client, started,
			"waiting for the database's write lock; it was not sent to FerretDB")
	}
}

// watchGone reports on `gone` when the client closes its connection while a request
// of its is pending (drivers send nothing else meanwhile). stop ends the watch; the
// connection and `incoming` can then be read as before.
func watchGone(client net.Conn, incoming *bufio.Reader) (gone <-chan struct{}, stop func()) {
	closed, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		if _, err := incoming.Peek(1); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			close(closed)
		}
	}()
	return closed, func() {
		_ = client.SetReadDeadline(time.Now()) // unblocks Peek
		<-done
		_ = client.SetReadDeadline(time.Time{})
	}
}

// errorReply is an OP_MSG answering req with {ok: 0, code, codeName, errmsg}.
func errorReply(req []byte, code int32, codeName, errmsg string) ([]byte, error) {
	doc, err := bson.Marshal(bson.D{
		{Key: "ok", Value: 0.0},
		{Key: "errmsg", Value: errmsg},
		{Key: "code", Value: code},
		{Key: "codeName", Value: codeName},
	})
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 21, 21+len(doc))
	binary.LittleEndian.PutUint32(msg[0:4], uint32(21+len(doc)))
	binary.LittleEndian.PutUint32(msg[4:8], 0)
	copy(msg[8:12], req[4:8]) // responseTo: the request's id
	binary.LittleEndian.PutUint32(msg[12:16], opMsg)
	binary.LittleEndian.PutUint32(msg[16:20], 0)
	msg[20] = 0 // section kind 0: the body
	return append(msg, doc...), nil
}

func (p *proxy) serveConn(client net.Conn) {
	defer client.Close()
	upstream, err := net.Dial("unix", p.upstreamPath)
	if err != nil {
		p.logger.Error("proxy: cannot reach FerretDB", "error", err)
		return
	}
	defer upstream.Close()

	// the client's bytes go through a buffer, so that watchGone can look ahead
	incoming := bufio.NewReader(client)
	for {
		req, err := readMsg(incoming)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.logger.Debug("proxy: client read", "error", err)
			}
			return
		}
		if db, cmd := writeTarget(req); db != "" {
			err = p.relayWrite(db, cmd, req, client, incoming, upstream)
		} else {
			err = relay(req, client, upstream)
		}
		if err != nil {
			p.logger.Debug("proxy: relay", "error", err)
			return
		}
	}
}

// relayWrite passes one mutating command and its answer while db's lock is held, giving
// up writeTimeout after it started waiting for the lock. An error closes the connection.
func (p *proxy) relayWrite(db, cmd string, req []byte, client net.Conn, incoming *bufio.Reader, upstream net.Conn) error {
	started := time.Now()
	deadline := started.Add(p.writeTimeout)
	lock := p.locks.get(db)
	timer := time.NewTimer(p.writeTimeout)
	defer timer.Stop()
	select {
	case lock <- struct{}{}: // free: the usual case
	default:
		if err := p.waitForLock(db, cmd, req, lock, timer.C, client, incoming, started); err != nil {
			return err
		}
	}
	defer func() { <-lock }()

	_ = upstream.SetDeadline(deadline)
	_ = client.SetWriteDeadline(deadline)
	err := relay(req, client, upstream)
	_ = upstream.SetDeadline(time.Time{})
	_ = client.SetWriteDeadline(time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return p.giveUp(db, cmd, req, client, started,
			"waiting for FerretDB's answer; it may still be applied later")
	}
	return err
}

// giveUp answers the client with a time-out (unless it expects no answer) and logs it;
// the error it returns makes serveConn close both connections.
func (p *proxy) giveUp(db, cmd string, req []byte, client net.Conn, started time.Time, stage string) error {
	waited := time.Since(started).Round(time.Millisecond)
	msg := fmt.Sprintf(
		"ferretdb-embedded proxy: %s on database %q timed out after %s (%s); connection closed",
		cmd, db, p.writeTimeout, stage,
	)
	p.logger.Warn("proxy: write timed out; answered MaxTimeMSExpired, client connection closed, database lock free",
		"db", db, "command", cmd, "stage", stage, "waited", waited.String(),
		"write_timeout", p.writeTimeout.String(), "client", client.RemoteAddr().String())
	if flags(req)&moreToCome == 0 {
		if reply, err := errorReply(req, codeMaxTimeMSExpired, "MaxTimeMSExpired", msg); err == nil {
			_ = client.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = client.Write(reply)
		}
	}
	return errors.New(msg)
}

// relay forwards one request and every response it gets (several while moreToCome is set).
func relay(req []byte, client, upstream net.Conn) error {
	if _, err := upstream.Write(req); err != nil {
		return err
	}
	if flags(req)&moreToCome != 0 {
		return nil
	}
	for {
		rsp, err := readMsg(upstream)
		if err != nil {
			return err
		}
		if _, err := client.Write(rsp); err != nil {
			return err
		}
		if flags(rsp)&moreToCome == 0 {
			return nil
		}
	}
}

func serveProxy(l net.Listener, upstreamPath string, writeTimeout time.Duration, logger *slog.Logger) error {
	p := &proxy{
		upstreamPath: upstreamPath,
		writeTimeout: writeTimeout,
		locks:        &dbLocks{locks: map[string]chan struct{}{}},
		logger:       logger,
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		go p.serveConn(conn)
	}
}
