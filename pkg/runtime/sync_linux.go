package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Messages between the runtime (parent) and the init or exec helper (child)
// travel as JSON lines over a socketpair.
const (
	msgPid   = "pid"   // nsenter's intermediate process: the child's pid
	msgHooks = "hooks" // child: run prestart and createRuntime hooks now
	msgOK    = "ok"    // parent: hooks done, carry on
	msgReady = "ready" // child: set up, waiting for start
	msgError = "error" // either side: give up with Msg
)

type syncMsg struct {
	Type string `json:"type"`
	Pid  int    `json:"pid,omitempty"`
	Msg  string `json:"msg,omitempty"`
	// Init, in msgReady, says which init is ready: "c" or "go".
	Init string `json:"init,omitempty"`
}

type syncConn struct {
	f   *os.File
	dec *json.Decoder
	enc *json.Encoder
}

func newSyncConn(f *os.File) *syncConn {
	return &syncConn{f: f, dec: json.NewDecoder(f), enc: json.NewEncoder(f)}
}

func (c *syncConn) send(v any) error { return c.enc.Encode(v) }

// recv reads the next message; a child that died says so with io.EOF.
func (c *syncConn) recv() (*syncMsg, error) {
	var m syncMsg
	if err := c.dec.Decode(&m); err != nil {
		return nil, err
	}
	if m.Type == msgError {
		return nil, errors.New(m.Msg)
	}
	return &m, nil
}

// expect reads one message of the wanted type.
func (c *syncConn) expect(typ string) (*syncMsg, error) {
	m, err := c.recv()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("waiting for %q: the child exited", typ)
		}
		return nil, err
	}
	if m.Type != typ {
		return nil, fmt.Errorf("unexpected message %q, want %q", m.Type, typ)
	}
	return m, nil
}
