package registry

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth/berth/pkg/errdefs"
)

// Htpasswd authenticates against an htpasswd file of bcrypt hashes
// ("user:$2y$..."), as `htpasswd -B` writes them.
type Htpasswd struct {
	users map[string][]byte
	// dummy is compared against for unknown users, so the time taken does
	// not tell which user names exist.
	dummy []byte

	// bcrypt is slow by design; remember recent successes so a client's
	// stream of requests does not pay it each time. Keys are a hash of
	// user, password and stored hash, never the password itself.
	mu    sync.Mutex
	known map[[32]byte]struct{}
}

var _ Authenticator = (*Htpasswd)(nil)

// LoadHtpasswd reads an htpasswd file. Only bcrypt entries are accepted.
func LoadHtpasswd(path string) (*Htpasswd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading htpasswd: %w", err)
	}
	defer f.Close()
	h := &Htpasswd{users: map[string][]byte{}, known: map[[32]byte]struct{}{}}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		user, hash, ok := strings.Cut(t, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("htpasswd %s line %d: want user:hash: %w", path, line, errdefs.ErrInvalidArgument)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("htpasswd %s line %d: user %q: only bcrypt hashes are supported (htpasswd -B): %w", path, line, user, errdefs.ErrInvalidArgument)
		}
		h.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading htpasswd: %w", err)
	}
	if h.dummy, err = bcrypt.GenerateFromPassword([]byte("berth-no-such-user"), bcrypt.DefaultCost); err != nil {
		return nil, err
	}
	return h, nil
}

// Authenticate reports whether password is user's.
func (h *Htpasswd) Authenticate(user, password string) bool {
	hash, ok := h.users[user]
	if !ok {
		// Spend the same time as a wrong password, so user names do not leak.
		_ = bcrypt.CompareHashAndPassword(h.dummy, []byte(password))
		return false
	}
	key := sha256.Sum256([]byte(user + "\x00" + password + "\x00" + string(hash)))
	h.mu.Lock()
	_, hit := h.known[key]
	h.mu.Unlock()
	if hit {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return false
	}
	h.mu.Lock()
	if len(h.known) > 4096 {
		clear(h.known)
	}
	h.known[key] = struct{}{}
	h.mu.Unlock()
	return true
}

// authorize enforces Basic auth. It answers 401 itself and returns false
// when the request may not go on.
func (r *Registry) authorize(w *statusWriter, req *http.Request) bool {
	if r.opts.Auth == nil {
		return true
	}
	user, pass, ok := req.BasicAuth()
	if ok && r.opts.Auth.Authenticate(user, pass) {
		w.user = user
		return true
	}
	if !ok && r.opts.AnonymousPull && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="berth-registry"`)
	writeError(w, errUnauthorized("authentication required"))
	return false
}
