package image

import (
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/pkg/errdefs"
)

// ParseChanges applies Dockerfile-style config instructions (import's and
// commit's --change: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME,
// WORKDIR, STOPSIGNAL) to an empty config. No changes give nil.
func ParseChanges(changes []string) (*v1.Config, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	cfg := &v1.Config{}
	for _, c := range changes {
		if err := applyChange(cfg, c); err != nil {
			return nil, fmt.Errorf("--change %q: %w", c, err)
		}
	}
	return cfg, nil
}

func applyChange(cfg *v1.Config, c string) error {
	instr, rest, _ := strings.Cut(strings.TrimSpace(c), " ")
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return fmt.Errorf("%w: missing value", errdefs.ErrInvalidArgument)
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		cfg.Cmd = cmdForm(rest)
	case "ENTRYPOINT":
		cfg.Entrypoint = cmdForm(rest)
	case "ENV":
		for _, kv := range pairs(rest) {
			cfg.Env = append(cfg.Env, kv[0]+"="+kv[1])
		}
	case "LABEL":
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range pairs(rest) {
			cfg.Labels[kv[0]] = kv[1]
		}
	case "EXPOSE":
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	case "USER":
		cfg.User = rest
	case "WORKDIR":
		cfg.WorkingDir = rest
	case "STOPSIGNAL":
		cfg.StopSignal = rest
	case "VOLUME":
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		var vols []string
		if json.Unmarshal([]byte(rest), &vols) != nil {
			vols = strings.Fields(rest)
		}
		for _, v := range vols {
			cfg.Volumes[v] = struct{}{}
		}
	default:
		return fmt.Errorf("%w: unsupported instruction %q", errdefs.ErrInvalidArgument, instr)
	}
	return nil
}

// cmdForm reads the exec form (a JSON array) or the shell form.
func cmdForm(s string) []string {
	var argv []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &argv) == nil {
		return argv
	}
	return []string{"/bin/sh", "-c", s}
}

// pairs reads "k=v k2=v2" or the legacy "k v" form.
func pairs(s string) [][2]string {
	if !strings.Contains(strings.Fields(s)[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}
	}
	var out [][2]string
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		out = append(out, [2]string{k, strings.Trim(v, `"`)})
	}
	return out
}
