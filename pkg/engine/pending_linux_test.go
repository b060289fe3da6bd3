package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHandoffPreAttach checks that a handoff with PreAttach gives the
// monitor the lock and a connected attach client whose hello is waiting.
func TestHandoffPreAttach(t *testing.T) {
	for _, remove := range []bool{false, true} {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		p := &PendingMonitor{conn: os.NewFile(uintptr(fds[0]), "handoff"), waitAttach: true}
		p.PreAttach(remove)
		lock, err := os.Create(filepath.Join(t.TempDir(), "monitor.lock"))
		if err != nil {
			t.Fatal(err)
		}
		id := strings.Repeat("ab", 32)
		done := make(chan error, 1)
		go func() { done <- p.handoff(id, lock) }()

		gotID, gotLock, conn, attach, err := ReceiveHandoff(fds[1])
		if err != nil {
			t.Fatal(err)
		}
		if gotID != id || gotLock == nil || attach == nil {
			t.Fatalf("handoff: id %q lock %v attach %v", gotID, gotLock, attach)
		}
		kind, hello, err := ReadFrame(attach)
		if err != nil || kind != FrameHello || (string(hello) == "remove") != remove {
			t.Fatalf("hello frame: kind %d %q err %v (remove %v)", kind, hello, err, remove)
		}
		WriteSync(conn, nil)
		conn.Close()
		if err := <-done; err != nil {
			t.Fatalf("handoff: %v", err)
		}
		client := p.AttachConn()
		if client == nil || p.AttachConn() != nil {
			t.Fatal("AttachConn: want the connection once")
		}
		if err := WriteFrame(attach, FrameExit, []byte("7")); err != nil {
			t.Fatal(err)
		}
		if kind, code, err := ReadFrame(client); err != nil || kind != FrameExit || string(code) != "7" {
			t.Fatalf("exit frame through the handed-off connection: %d %q %v", kind, code, err)
		}
		client.Close()
		attach.Close()
		gotLock.Close()
		lock.Close()
	}
}

// TestHandoffWithoutPreAttach keeps the old handoff: no attach connection.
func TestHandoffWithoutPreAttach(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &PendingMonitor{conn: os.NewFile(uintptr(fds[0]), "handoff")}
	lock, err := os.Create(filepath.Join(t.TempDir(), "monitor.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	done := make(chan error, 1)
	go func() { done <- p.handoff(strings.Repeat("cd", 32), lock) }()
	_, gotLock, conn, attach, err := ReceiveHandoff(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	defer gotLock.Close()
	if attach != nil {
		t.Fatal("an attach connection without PreAttach")
	}
	WriteSync(conn, nil)
	conn.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.AttachConn() != nil {
		t.Fatal("AttachConn without PreAttach")
	}
}
