package runtime

import (
	"os"
	"strconv"
	"testing"
)

// Both copies the runtime re-executes from must refuse writes.
func TestSelfCopiesAreUnwritable(t *testing.T) {
	mem, err := sealedSelf("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if _, err := mem.Write([]byte("x")); err == nil {
		t.Error("wrote to the sealed memfd")
	}
	if f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(mem.Fd())), os.O_WRONLY, 0); err == nil {
		if _, err := f.Write([]byte("x")); err == nil {
			t.Error("wrote to the sealed memfd through a reopened fd")
		}
		f.Close()
	}
	if os.Geteuid() != 0 {
		t.Skip("the read-only bind mount needs root")
	}
	ro, err := roBoundSelf("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(ro.Fd())), os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Error("reopened the read-only copy for writing")
	}
}
