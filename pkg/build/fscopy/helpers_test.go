package fscopy

import (
	"bytes"
	"time"
)

var timeZero = time.Unix(0, 0)

// hashBuf is a hash.Hash that keeps what it is fed, for comparing records.
type hashBuf struct{ b *bytes.Buffer }

func (h *hashBuf) Write(p []byte) (int, error) { return h.b.Write(p) }
func (h *hashBuf) Sum(b []byte) []byte         { return append(b, h.b.Bytes()...) }
func (h *hashBuf) Reset()                      { h.b.Reset() }
func (h *hashBuf) Size() int                   { return 0 }
func (h *hashBuf) BlockSize() int              { return 1 }
