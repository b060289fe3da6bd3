package credentials

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"

	"github.com/berth/berth/pkg/errdefs"
)

// helperName is what may follow "docker-credential-": a name, not a path.
var helperName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// helperNotFound is what helpers print when they have nothing for a server.
const helperNotFound = "credentials not found in native keychain"

// errNoCreds is a helper's helperNotFound answer.
var errNoCreds = fmt.Errorf("%s: %w", helperNotFound, errdefs.ErrNotFound)

// runHelper runs docker-credential-<h> verb with stdin, as the protocol of
// docker/docker-credential-helpers says.
func runHelper(h, verb string, stdin []byte) ([]byte, error) {
	if !helperName.MatchString(h) {
		return nil, fmt.Errorf("credential helper %q: %w: not a helper name", h, errdefs.ErrInvalidArgument)
	}
	prog := "docker-credential-" + h
	path, err := exec.LookPath(prog)
	if err != nil {
		return nil, fmt.Errorf("credential helper %s (named in %s): %w: not found in PATH", prog, ConfigPath(), errdefs.ErrNotFound)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(path, verb)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = strings.TrimSpace(errb.String())
		}
		if msg == helperNotFound {
			return nil, fmt.Errorf("%s %s: %w", prog, verb, errNoCreds)
		}
		return nil, fmt.Errorf("%s %s: %v: %s: %w", prog, verb, err, msg, errdefs.ErrUnavailable)
	}
	return out.Bytes(), nil
}

// helperCreds is the JSON helpers exchange.
type helperCreds struct {
	ServerURL string `json:"ServerURL"`
	Username  string `json:"Username"`
	Secret    string `json:"Secret"`
}

func helperStore(h, key, username, password string) error {
	b, _ := json.Marshal(helperCreds{ServerURL: key, Username: username, Secret: password})
	_, err := runHelper(h, "store", b)
	return err
}

func helperGet(h, key string) (string, string, bool, error) {
	out, err := runHelper(h, "get", []byte(key))
	if errors.Is(err, errNoCreds) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	var c helperCreds
	if err := json.Unmarshal(out, &c); err != nil {
		return "", "", false, fmt.Errorf("docker-credential-%s get: %w: %v", h, errdefs.ErrInvalidArgument, err)
	}
	return c.Username, c.Secret, c.Secret != "", nil
}

func helperErase(h, key string) (bool, error) {
	_, err := runHelper(h, "erase", []byte(key))
	if errors.Is(err, errNoCreds) {
		return false, nil
	}
	return err == nil, err
}
