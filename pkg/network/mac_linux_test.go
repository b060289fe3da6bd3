package network

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

// A requested MAC is the container device's address; a second member
// cannot take it, and a member whose derived MAC was taken gets another.
func TestAttachWithMAC(t *testing.T) {
	m := newManager(t)
	ctx := context.Background()
	n, err := m.Create(ctx, "mac-"+randSuffix(), CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c1, c2, c3 := newContainer(t, false), newContainer(t, false), newContainer(t, false)
	// The address c2 would derive from the second IP of the range.
	derived, _ := net.ParseMAC(macFor(n.allocRange().Addr().Next().Next().Next()))
	a1, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: c1.id, NetNSPath: c1.netnsPath(), MAC: derived})
	if err != nil {
		t.Fatal(err)
	}
	if a1.MAC != derived.String() {
		t.Fatalf("attachment MAC %s, want %s", a1.MAC, derived)
	}
	out, err := exec.Command("ip", "netns", "exec", c1.ns, "ip", "-o", "link", "show", a1.Interface).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "link/ether "+derived.String()) {
		t.Fatalf("device in the namespace: %v\n%s", err, out)
	}
	if _, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: c2.id, NetNSPath: c2.netnsPath(), MAC: derived}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second attach with the same MAC: %v", err)
	}
	a3, err := m.Attach(ctx, AttachRequest{Network: n.Name, ContainerID: c3.id, NetNSPath: c3.netnsPath()})
	if err != nil {
		t.Fatal(err)
	}
	if a3.MAC == derived.String() || a3.MAC == "" {
		t.Fatalf("derived MAC clash: %s (IP %s)", a3.MAC, a3.IP)
	}
	for _, id := range []string{c1.id, c3.id} {
		if err := m.Detach(ctx, n.Name, id); err != nil {
			t.Fatal(err)
		}
	}
}

func TestValidateMAC(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"02:42:ac:11:00:02", true},
		{"92:d0:c6:0a:29:33", true},
		{"01:00:5e:00:00:01", false},
		{"ff:ff:ff:ff:ff:ff", false},
		{"00:00:00:00:00:00", false},
		{"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", false},
	} {
		mac, err := net.ParseMAC(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateMAC(mac); (err == nil) != tc.ok {
			t.Errorf("ValidateMAC(%s): %v", tc.in, err)
		}
	}
}
