package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

// Status is the OCI lifecycle status of a container.
type Status string

// The OCI runtime-spec statuses, plus paused (runc's extension).
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// State is what `state` prints: the OCI state plus runc's created time and owner.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Runtime manages the containers whose state lives under one root directory.
type Runtime struct {
	root string
	// initBinary, when set, is re-executed for container inits and exec
	// helpers instead of the running program (see SetInitBinary).
	initBinary string
}

// SetInitBinary makes the runtime re-execute path (a berth-runtime built from
// the same source) for container inits and exec helpers instead of the
// running program. A program that embeds the runtime but links much more
// (berth itself) saves its start-up in every container this way. The binary
// is protected exactly as the running one is (CVE-2019-5736).
func (r *Runtime) SetInitBinary(path string) { r.initBinary = path }

// New returns a Runtime keeping container state under root (created 0700 if absent).
func New(root string) (*Runtime, error) {
	if root == "" {
		return nil, fmt.Errorf("runtime root: %w", errdefs.ErrInvalidArgument)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("runtime root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("creating runtime root %q: %w", abs, err)
	}
	return &Runtime{root: abs}, nil
}

// Root returns the directory holding container state.
func (r *Runtime) Root() string { return r.root }

// idChar reports whether c may appear in a container id: letters, digits, _ + - .
// (As the regexp ^[\w+\-.]+$ would, without compiling one at start-up.)
func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+-.", c) >= 0
}

// validateID rejects ids that could escape the state root or confuse callers.
func validateID(id string) error {
	ok := id != "" && len(id) <= 1024 && id != "." && id != ".."
	for i := 0; ok && i < len(id); i++ {
		ok = idChar(id[i])
	}
	if !ok {
		return fmt.Errorf("invalid container id %q (want letters, digits, _ + - .): %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.root, id) }

// errNotSupported marks requests this runtime or host cannot honour.
var errNotSupported = errdefs.ErrNotImplemented
