package image

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth/berth/internal/testutil"
)

// noHub refuses requests to Docker Hub (this machine has no route to it,
// and a test must not depend on one) and sends the rest on.
type noHub struct{ hubCalls int }

func (n *noHub) RoundTrip(req *http.Request) (*http.Response, error) {
	if isDockerHubHost(req.URL.Host) {
		n.hubCalls++
		return nil, errors.New("no route to Docker Hub in tests")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestPullMirrored(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	host, _ := testRegistry(t)
	img, _ := random.Image(1024, 2)
	seed, _ := ParseReference(host + "/library/mirrored:v1")
	if err := remote.Write(seed, img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	hub := &noHub{}
	useRegistries(t, &RegistryConfig{Mirrors: []string{"http://127.0.0.1:1", "http://" + host}})
	res, err := s.Pull(ctx, "mirrored:v1", PullOptions{RemoteOptions: RemoteOptions{Transport: hub}})
	if err != nil {
		t.Fatalf("pull through the second mirror: %v", err)
	}
	if res.Ref != "docker.io/library/mirrored:v1" || res.Digest.String() != want.String() || hub.hubCalls != 0 {
		t.Errorf("result %s %s, Docker Hub asked %d times", res.Ref, res.Digest, hub.hubCalls)
	}
	if _, err := s.Resolve(ctx, "mirrored:v1"); err != nil {
		t.Errorf("the image does not have its Docker Hub name: %v", err)
	}

	// No mirror has it: Docker Hub is asked last, and the error says why
	// each mirror failed.
	_, err = s.Pull(ctx, "absent:v1", PullOptions{RemoteOptions: RemoteOptions{Transport: hub}})
	if err == nil || hub.hubCalls == 0 || !strings.Contains(err.Error(), "after the mirrors failed") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("pull of an image no source has: %v (Docker Hub asked %d times)", err, hub.hubCalls)
	}
}
