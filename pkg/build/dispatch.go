package build

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/berth/berth/pkg/build/dockerfile"
	"github.com/berth/berth/pkg/errdefs"
)

// expander returns the word expander for st: its environment over its
// declared build arguments.
func (r *run) expander(st *state) *dockerfile.Expander {
	return dockerfile.NewExpander(r.file.Escape, st.img.Config.Env, st.args)
}

// dispatch runs one instruction on st.
func (r *run) dispatch(ctx context.Context, st *state, s *dockerfile.Stage, c instructions.Command, prefix string) error {
	text := strings.TrimSpace(fmt.Sprint(c))
	if sc, ok := c.(fmt.Stringer); ok {
		text = sc.String()
	}
	ex := r.expander(st)
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := c.(*instructions.RunCommand); !isRun {
			if err := e.Expand(ex.Word); err != nil {
				return err
			}
		}
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		if err := e.ExpandRaw(ex.Word); err != nil {
			return err
		}
	}
	header := fmt.Sprintf("%sSTEP %d/%d: %s", prefix, r.step, r.total, firstLine(text))
	r.res.Steps++
	switch c := c.(type) {
	case *instructions.RunCommand:
		return r.runStep(ctx, st, c, header)
	case *instructions.CopyCommand:
		return r.copyStep(ctx, st, copySpec{
			srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath, from: c.From,
			chown: c.Chown, chmod: c.Chmod, exclude: c.ExcludePatterns, parents: c.Parents,
		}, header, "COPY")
	case *instructions.AddCommand:
		unpack := c.Unpack == nil || *c.Unpack
		return r.copyStep(ctx, st, copySpec{
			srcs: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
			chown: c.Chown, chmod: c.Chmod, exclude: c.ExcludePatterns, add: true, unpack: unpack,
		}, header, "ADD")
	case *instructions.WorkdirCommand:
		return r.meta(st, header, []string{"WORKDIR", c.Path}, "WORKDIR "+c.Path, func() error {
			wd := c.Path
			if !path.IsAbs(wd) {
				wd = path.Join("/", st.img.Config.WorkingDir, wd)
			}
			st.img.Config.WorkingDir = path.Clean(wd)
			st.workdirPending = true
			return nil
		})
	case *instructions.ArgCommand:
		return r.argStep(st, c, header)
	}
	key, apply, desc, err := r.metaCommand(st, c)
	if err != nil {
		return err
	}
	return r.meta(st, header, key, desc, apply)
}

// meta runs a metadata-only step: it changes the config and adds a history
// entry with empty_layer, or takes the result from the cache.
func (r *run) meta(st *state, header string, keyParts []string, createdBy string, apply func() error) error {
	key := stepKey(st.key, keyParts...)
	if r.cached(context.Background(), st, key) {
		fmt.Fprintf(r.out, "%s CACHED\n", header)
		r.res.Cached++
		return nil
	}
	fmt.Fprintln(r.out, header)
	r.res.Built++
	if err := apply(); err != nil {
		return err
	}
	st.key = key
	addHistory(st, createdBy, true)
	r.remember(st)
	return nil
}

// argStep declares build arguments: the value comes from --build-arg, else
// the default, else the meta ARG before FROM of that name.
func (r *run) argStep(st *state, c *instructions.ArgCommand, header string) error {
	for _, kv := range c.Args {
		v, have := r.o.BuildArgs[kv.Key]
		if !have && kv.Value != nil {
			v, have = *kv.Value, true
		}
		if !have {
			if mv, ok := r.plan.MetaArgs[kv.Key]; ok {
				v, have = mv, true
			}
		}
		if have {
			st.args[kv.Key] = v
		} else {
			delete(st.args, kv.Key)
		}
	}
	// ARG changes no config and is not part of the key chain: the steps that
	// read an argument carry its value in their own keys (RUN its
	// environment, the others their expanded words), so a new value misses
	// the cache only from the first step that uses it.
	fmt.Fprintln(r.out, header)
	return nil
}

// metaCommand gives a metadata instruction's cache key parts and effect.
func (r *run) metaCommand(st *state, c instructions.Command) ([]string, func() error, string, error) {
	cfg := &st.img.Config
	switch c := c.(type) {
	case *instructions.EnvCommand:
		parts := []string{"ENV"}
		for _, kv := range c.Env {
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return parts, func() error {
			for _, kv := range c.Env {
				cfg.Env = dockerfile.SetEnv(cfg.Env, kv.Key, kv.Value)
			}
			return nil
		}, strings.Join(parts, " "), nil
	case *instructions.LabelCommand:
		parts := []string{"LABEL"}
		for _, kv := range c.Labels {
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		return parts, func() error {
			if cfg.Labels == nil {
				cfg.Labels = map[string]string{}
			}
			for _, kv := range c.Labels {
				cfg.Labels[kv.Key] = kv.Value
			}
			return nil
		}, strings.Join(parts, " "), nil
	case *instructions.MaintainerCommand:
		return []string{"MAINTAINER", c.Maintainer}, func() error {
			st.img.Author = c.Maintainer
			return nil
		}, "MAINTAINER " + c.Maintainer, nil
	case *instructions.ExposeCommand:
		ex := r.expander(st)
		var ports []string
		for _, p := range c.Ports {
			p, err := ex.Word(p)
			if err != nil {
				return nil, nil, "", err
			}
			ps, err := expandPorts(p)
			if err != nil {
				return nil, nil, "", err
			}
			ports = append(ports, ps...)
		}
		return append([]string{"EXPOSE"}, ports...), func() error {
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				cfg.ExposedPorts[p] = struct{}{}
			}
			return nil
		}, "EXPOSE " + strings.Join(ports, " "), nil
	case *instructions.VolumeCommand:
		for _, v := range c.Volumes {
			if strings.TrimSpace(v) == "" {
				return nil, nil, "", fmt.Errorf("VOLUME with an empty path: %w", errdefs.ErrInvalidArgument)
			}
		}
		return append([]string{"VOLUME"}, c.Volumes...), func() error {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			for _, v := range c.Volumes {
				cfg.Volumes[v] = struct{}{}
			}
			return nil
		}, "VOLUME " + fmt.Sprint(c.Volumes), nil
	case *instructions.UserCommand:
		return []string{"USER", c.User}, func() error { cfg.User = c.User; return nil }, "USER " + c.User, nil
	case *instructions.StopSignalCommand:
		return []string{"STOPSIGNAL", c.Signal}, func() error { cfg.StopSignal = c.Signal; return nil }, "STOPSIGNAL " + c.Signal, nil
	case *instructions.ShellCommand:
		return append([]string{"SHELL"}, c.Shell...), func() error {
			cfg.Shell = append([]string(nil), c.Shell...)
			return nil
		}, "SHELL " + quoteJSON(c.Shell), nil
	case *instructions.CmdCommand:
		args := r.cmdline(st, c.ShellDependantCmdLine)
		return append([]string{"CMD"}, args...), func() error {
			cfg.Cmd = args
			st.cmdSet = true
			return nil
		}, "CMD " + quoteJSON(args), nil
	case *instructions.EntrypointCommand:
		args := r.cmdline(st, c.ShellDependantCmdLine)
		return append([]string{"ENTRYPOINT"}, args...), func() error {
			cfg.Entrypoint = args
			if !st.cmdSet {
				cfg.Cmd = nil
			}
			return nil
		}, "ENTRYPOINT " + quoteJSON(args), nil
	case *instructions.HealthCheckCommand:
		h := *c.Health
		parts := []string{"HEALTHCHECK", quoteJSON(h.Test), h.Interval.String(), h.Timeout.String(),
			h.StartPeriod.String(), h.StartInterval.String(), strconv.Itoa(h.Retries)}
		return parts, func() error {
			cfg.Healthcheck = &h
			return nil
		}, "HEALTHCHECK " + quoteJSON(h.Test), nil
	case *instructions.OnbuildCommand:
		expr := strings.TrimSpace(c.Expression)
		if _, err := parseTrigger(expr); err != nil {
			return nil, nil, "", err
		}
		return []string{"ONBUILD", expr}, func() error {
			cfg.OnBuild = append(cfg.OnBuild, expr)
			return nil
		}, "ONBUILD " + expr, nil
	}
	return nil, nil, "", fmt.Errorf("instruction %s is not supported: %w", strings.ToUpper(c.Name()), errdefs.ErrNotImplemented)
}

// cmdline turns a shell- or exec-form command line into argv.
func (r *run) cmdline(st *state, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	return append(r.shell(st), strings.Join(c.CmdLine, " "))
}

// shell returns the shell for shell-form commands.
func (r *run) shell(st *state) []string {
	if len(st.img.Config.Shell) > 0 {
		return append([]string(nil), st.img.Config.Shell...)
	}
	return []string{"/bin/sh", "-c"}
}

// parseTrigger parses an ONBUILD expression as one Dockerfile instruction.
func parseTrigger(expr string) ([]instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, fmt.Errorf("ONBUILD %s: %w", expr, err)
	}
	var out []instructions.Command
	for _, n := range res.AST.Children {
		switch strings.ToUpper(n.Value) {
		case "ONBUILD", "FROM", "MAINTAINER":
			return nil, fmt.Errorf("ONBUILD %s: %s is not allowed as an ONBUILD trigger: %w", expr, strings.ToUpper(n.Value), errdefs.ErrInvalidArgument)
		}
		c, err := instructions.ParseCommand(n)
		if err != nil {
			return nil, fmt.Errorf("ONBUILD %s: %w", expr, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// expandPorts normalises EXPOSE values: "80" is "80/tcp"; ranges expand.
func expandPorts(p string) ([]string, error) {
	num, proto, _ := strings.Cut(p, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("EXPOSE %s: unknown protocol %q: %w", p, proto, errdefs.ErrInvalidArgument)
	}
	lo, hi, isRange := strings.Cut(num, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 0 || a > 65535 {
		return nil, fmt.Errorf("EXPOSE %s: invalid port: %w", p, errdefs.ErrInvalidArgument)
	}
	b := a
	if isRange {
		b, err = strconv.Atoi(hi)
		if err != nil || b < a || b > 65535 {
			return nil, fmt.Errorf("EXPOSE %s: invalid port range: %w", p, errdefs.ErrInvalidArgument)
		}
	}
	var out []string
	for i := a; i <= b; i++ {
		out = append(out, fmt.Sprintf("%d/%s", i, proto))
	}
	return out, nil
}

func quoteJSON(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ",") + "]"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
