package dockerfile

import (
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// DefaultPath is the PATH builders give an image whose base sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// envMap adapts a map to BuildKit's shell.EnvGetter.
type envMap map[string]string

func (m envMap) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func (m envMap) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Expander expands $VAR and ${VAR...} in Dockerfile words with a stage's
// build arguments and environment (the environment wins).
type Expander struct {
	lex  *shell.Lex
	vars envMap
}

// NewExpander returns an expander over env (KEY=VALUE, the image's Env) and
// args (the build arguments in scope).
func NewExpander(escape rune, env []string, args map[string]string) *Expander {
	vars := envMap{}
	for k, v := range args {
		vars[k] = v
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return &Expander{lex: shell.NewLex(escape), vars: vars}
}

// Word expands one word.
func (e *Expander) Word(w string) (string, error) {
	v, _, err := e.lex.ProcessWord(w, e.vars)
	return v, err
}

// SetEnv sets KEY=VALUE in list, replacing an existing KEY, keeping order.
func SetEnv(list []string, key, value string) []string {
	out := make([]string, 0, len(list)+1)
	replaced := false
	for _, kv := range list {
		k, _, _ := strings.Cut(kv, "=")
		if k == key {
			if !replaced {
				out = append(out, key+"="+value)
				replaced = true
			}
			continue
		}
		out = append(out, kv)
	}
	if !replaced {
		out = append(out, key+"="+value)
	}
	return out
}

// GetEnv returns the value of key in list.
func GetEnv(list []string, key string) (string, bool) {
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}
