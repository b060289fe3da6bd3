package runtime

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
)

// The C init refuses a plan it cannot parse, whole, before doing anything:
// a bad header, a string without its NUL, a step cut short, an unknown step.
func TestCInitMalformedPlan(t *testing.T) {
	testutil.RequireRoot(t)
	str := func(s string) []byte {
		b := binary.NativeEndian.AppendUint32(nil, uint32(len(s)))
		return append(b, s...)
	}
	num := func(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }
	frame := func(body []byte) []byte {
		b := binary.NativeEndian.AppendUint32(nil, planMagic)
		b = binary.NativeEndian.AppendUint32(b, uint32(len(body)))
		return append(b, body...)
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"bad magic", cat(num(0x1234), num(0))},
		{"too long", cat(binary.NativeEndian.AppendUint32(nil, planMagic), binary.NativeEndian.AppendUint32(nil, planMax+1))},
		{"string without NUL", frame(cat(num(opHostname), str("berth")))},
		{"string with an inner NUL", frame(cat(num(opHostname), str("ber\x00th\x00")))},
		{"step cut short", frame(cat(num(opRlimit), num(7)))},
		{"unknown step", frame(num(9999))},
		{"no exec", frame(cat(num(opUmask), num(0o22)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// In namespaces of its own, should a step run after all.
			c := &child{mode: cinitMode, cloneflags: unix.CLONE_NEWUTS | unix.CLONE_NEWNS | unix.CLONE_NEWNET}
			s, err := c.start()
			if err != nil {
				t.Fatal(err)
			}
			defer s.kill()
			if _, err := s.conn.f.Write(tc.raw); err != nil {
				t.Fatal(err)
			}
			_, err = s.conn.recv()
			if err == nil || !(strings.Contains(err.Error(), "malformed plan") || strings.Contains(err.Error(), "ended without exec")) {
				t.Fatalf("init answered %v, want a refusal of the plan", err)
			}
			if werr := s.wait(); werr == nil {
				t.Error("the init exited with status 0")
			}
		})
	}
}
