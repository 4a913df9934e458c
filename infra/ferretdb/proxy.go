package main

// FerretDB v1.24 runs update, findAndModify and delete as "query, then write back by
// _id" without a lock, so two concurrent conditional updates of one document can both
// apply (measured: ten concurrent $inc -3000 guarded by {room: {$gte: 3000}} on 10000
// granted 6 to 10 of them). The services rely on single-document atomic updates, so
// this proxy serialises every mutating command per database: a write command's request
// and its whole response pass while that database's lock is held. Reads pass freely.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/bson"
)

const (
	opMsg       = 2013
	moreToCome  = 1 << 1
	maxMsgBytes = 48 * 1000 * 1000
)

var mutating = map[string]bool{
	"insert": true, "update": true, "delete": true, "findandmodify": true,
	"createindexes": true, "dropindexes": true, "create": true, "drop": true,
	"dropdatabase": true, "renamecollection": true, "collmod": true,
}

type dbLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (l *dbLocks) get(db string) *sync.Mutex {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.locks[db]
	if !ok {
		m = &sync.Mutex{}
		l.locks[db] = m
	}
	return m
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

// writeTarget returns the database of a mutating OP_MSG command, or "" for anything else.
func writeTarget(msg []byte) string {
	if len(msg) < 26 || binary.LittleEndian.Uint32(msg[12:16]) != opMsg || msg[20] != 0 {
		return ""
	}
	body := bson.Raw(msg[21:])
	first, err := body.IndexErr(0)
	if err != nil || !mutating[strings.ToLower(first.Key())] {
		return ""
	}
	db, ok := body.Lookup("$db").StringValueOK()
	if !ok {
		return ""
	}
	return db
}

func serveConn(client net.Conn, upstreamPath string, locks *dbLocks, logger *slog.Logger) {
	defer client.Close()
	upstream, err := net.Dial("unix", upstreamPath)
	if err != nil {
		logger.Error("proxy: cannot reach FerretDB", "error", err)
		return
	}
	defer upstream.Close()

	for {
		req, err := readMsg(client)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				logger.Debug("proxy: client read", "error", err)
			}
			return
		}
		var held *sync.Mutex
		if db := writeTarget(req); db != "" {
			held = locks.get(db)
			held.Lock()
		}
		err = relay(req, client, upstream)
		if held != nil {
			held.Unlock()
		}
		if err != nil {
			logger.Debug("proxy: relay", "error", err)
			return
		}
	}
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

func serveProxy(l net.Listener, upstreamPath string, logger *slog.Logger) error {
	locks := &dbLocks{locks: map[string]*sync.Mutex{}}
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		go serveConn(conn, upstreamPath, locks, logger)
	}
}
