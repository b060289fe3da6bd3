package image

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth/berth/pkg/errdefs"
)

func TestParseRepository(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"busybox", "docker.io/library/busybox", true},
		{"localhost:5000/app", "localhost:5000/app", true},
		{"quay.io/a/b", "quay.io/a/b", true},
		{"busybox:1", "", false},
		{"localhost:5000/app:v1", "", false},
		{"busybox@sha256:" + strings.Repeat("a", 64), "", false},
		{"", "", false},
		{"UPPER/case", "", false},
	} {
		r, err := ParseRepository(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseRepository(%q): %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err == nil && RepoName(r) != tc.want {
			t.Errorf("ParseRepository(%q) = %s, want %s", tc.in, RepoName(r), tc.want)
		}
	}
}

func TestListTags(t *testing.T) {
	host, _ := testRegistry(t)
	img, _ := random.Image(256, 1)
	for _, tag := range []string{"v2", "v1", "latest"} {
		ref, _ := ParseReference(host + "/tags/app:" + tag)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tags, err := s.ListTags(context.Background(), host+"/tags/app", RemoteOptions{})
	if err != nil || strings.Join(tags, ",") != "latest,v1,v2" {
		t.Fatalf("ListTags = %v, %v", tags, err)
	}
	if _, err := s.ListTags(context.Background(), host+"/tags/app:v1", RemoteOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("ListTags with a tag: %v", err)
	}
	if _, err := s.ListTags(context.Background(), host+"/tags/none", RemoteOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("ListTags of an unknown repository: %v", err)
	}
}
