package image

import (
	"errors"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                         "docker.io/library/busybox:latest",
		"busybox:1.36":                    "docker.io/library/busybox:1.36",
		"library/busybox":                 "docker.io/library/busybox:latest",
		"docker.io/busybox":               "docker.io/library/busybox:latest",
		"index.docker.io/library/busybox": "docker.io/library/busybox:latest",
		"user/app:v1":                     "docker.io/user/app:v1",
		"localhost:5000/app":              "localhost:5000/app:latest",
		"quay.io/a/b/c:t":                 "quay.io/a/b/c:t",
		"busybox@sha256:0123456789012345678901234567890123456789012345678901234567890123": "docker.io/library/busybox@sha256:0123456789012345678901234567890123456789012345678901234567890123",
	} {
		got, err := Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "UPPER/case", "a b", "busybox@sha256:short", ":tag"} {
		if _, err := Normalize(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Normalize(%q) = %v, want invalid", bad, err)
		}
	}
	for in, want := range map[string]string{
		"docker.io/library/busybox:latest": "busybox:latest",
		"docker.io/user/app:v1":            "user/app:v1",
		"localhost:5000/app:latest":        "localhost:5000/app:latest",
	} {
		if got := Familiar(in); got != want {
			t.Errorf("Familiar(%q) = %q, want %q", in, got, want)
		}
	}
	if !IsLoopback("127.0.0.1:5000") || !IsLoopback("localhost") || !IsLoopback("[::1]:80") || IsLoopback("10.0.0.1:5000") || IsLoopback("localhost.evil.com") {
		t.Error("IsLoopback is wrong")
	}
}

func TestDocKind(t *testing.T) {
	const (
		manifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}`
		index    = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:x"}]}`
	)
	for _, tc := range []struct {
		name, doc, contentType string
		wantErr                bool
	}{
		{"manifest", manifest, "", false},
		{"index", index, "", false},
		{"both (CVE-2021-41190)", `{"schemaVersion":2,"manifests":[{}],"layers":[{}],"config":{}}`, "application/vnd.oci.image.manifest.v1+json", true},
		{"index claiming manifest", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[{}]}`, "", true},
		{"manifest claiming index", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","layers":[{}]}`, "", true},
		{"content type disagrees", manifest, "application/vnd.oci.image.index.v1+json", true},
		{"schema 1", `{"schemaVersion":1,"fsLayers":[{}]}`, "", true},
		{"no media type, manifest shape", `{"schemaVersion":2,"config":{},"layers":[]}`, "", false},
		{"empty", `{}`, "", true},
		{"not json", `<html>`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := docKind([]byte(tc.doc), tc.contentType)
			if (err != nil) != tc.wantErr {
				t.Errorf("docKind = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}
