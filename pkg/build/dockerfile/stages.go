package dockerfile

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth/berth/pkg/errdefs"
)

// Scratch is the empty base.
const Scratch = "scratch"

// ProxyArgs are the build arguments every Dockerfile may use without
// declaring them; they reach RUN but are left out of the image history.
var ProxyArgs = []string{
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
}

// IsProxyArg reports whether name is one of ProxyArgs.
func IsProxyArg(name string) bool {
	for _, p := range ProxyArgs {
		if p == name {
			return true
		}
	}
	return false
}

// PlatformArgs are the automatic platform arguments, visible to FROM lines
// and, once declared with ARG, inside a stage.
func PlatformArgs() map[string]string {
	p := runtime.GOOS + "/" + runtime.GOARCH
	return map[string]string{
		"TARGETPLATFORM": p, "TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH, "TARGETVARIANT": "",
		"BUILDPLATFORM": p, "BUILDOS": runtime.GOOS, "BUILDARCH": runtime.GOARCH, "BUILDVARIANT": "",
	}
}

// Stage is one FROM-delimited stage with its base resolved against the
// meta arguments and earlier stages.
type Stage struct {
	// Index is the stage's position in the file (0-based).
	Index int
	// Name is the stage's AS name, lower-cased, or "".
	Name string
	// Base is the expanded FROM argument: Scratch, an image reference or a stage name.
	Base string
	// BaseStage is the index of the earlier stage Base names, or -1.
	BaseStage int
	// Line is the FROM line.
	Line int
	// Commands are the stage's instructions after FROM.
	Commands []instructions.Command
	// Deps are the indexes of earlier stages this stage reads (FROM and COPY --from).
	Deps []int
	// Images are image references this stage reads with COPY --from.
	Images []string
}

// Plan is what a build of one target needs: its stages in build order.
type Plan struct {
	// Stages are all stages of the file, resolved.
	Stages []*Stage
	// Order lists the indexes of the stages the target needs, dependencies first.
	Order []int
	// Target is the index of the stage whose result is the image.
	Target int
	// MetaArgs are the values of the arguments declared before the first FROM
	// (defaults overridden by build arguments); stages may re-declare them.
	MetaArgs map[string]string
}

// NewPlan resolves the stages of f against buildArgs and selects the ones
// target (a stage name; "" for the last stage) needs.
func NewPlan(f *File, target string, buildArgs map[string]string) (*Plan, error) {
	meta := PlatformArgs()
	lex := shell.NewLex(f.Escape)
	for _, a := range f.MetaArgs {
		for _, kv := range a.Args {
			if v, ok := buildArgs[kv.Key]; ok {
				meta[kv.Key] = v
				continue
			}
			if kv.Value == nil {
				if _, ok := meta[kv.Key]; !ok {
					meta[kv.Key] = ""
				}
				continue
			}
			v, _, err := lex.ProcessWord(*kv.Value, envMap(meta))
			if err != nil {
				return nil, f.errorAt(err, line(a.Location()))
			}
			meta[kv.Key] = v
		}
	}
	p := &Plan{MetaArgs: meta, Target: len(f.Stages) - 1}
	byName := map[string]int{}
	for i, s := range f.Stages {
		ln := line(s.Location)
		base, _, err := lex.ProcessWord(s.BaseName, envMap(meta))
		if err != nil {
			return nil, f.errorAt(fmt.Errorf("FROM %s: %w", s.BaseName, err), ln)
		}
		if base == "" {
			return nil, f.errorAt(fmt.Errorf("FROM %s expands to an empty base name", s.BaseName), ln)
		}
		st := &Stage{Index: i, Name: strings.ToLower(s.Name), Base: base, BaseStage: -1, Line: ln, Commands: s.Commands}
		if j, ok := byName[strings.ToLower(base)]; ok {
			st.BaseStage = j
			st.Deps = append(st.Deps, j)
		}
		for _, c := range s.Commands {
			from := ""
			switch c := c.(type) {
			case *instructions.CopyCommand:
				from = c.From
			case *instructions.RunCommand:
				if len(c.FlagsUsed) > 0 {
					return nil, f.errorAt(fmt.Errorf("RUN --%s is not supported by berth build: %w", c.FlagsUsed[0], errdefs.ErrNotImplemented), line(c.Location()))
				}
			}
			if from == "" {
				continue
			}
			from, _, err = lex.ProcessWord(from, envMap(meta))
			if err != nil {
				return nil, f.errorAt(err, line(c.Location()))
			}
			if j, ok := stageRef(from, byName, i); ok {
				st.Deps = append(st.Deps, j)
			} else if n, err := strconv.Atoi(from); err == nil && n >= i {
				return nil, f.errorAt(fmt.Errorf("COPY --from=%d refers to stage %d, which is not before this one", n, n), line(c.Location()))
			} else {
				st.Images = append(st.Images, from)
			}
		}
		if st.Name != "" {
			if _, dup := byName[st.Name]; dup {
				return nil, f.errorAt(fmt.Errorf("duplicate stage name %q", st.Name), ln)
			}
			byName[st.Name] = i
		}
		p.Stages = append(p.Stages, st)
	}
	if target != "" {
		j, ok := byName[strings.ToLower(target)]
		if !ok {
			return nil, fmt.Errorf("target stage %q not found in %s: %w", target, f.Name, errdefs.ErrNotFound)
		}
		p.Target = j
	}
	seen := make([]bool, len(p.Stages))
	var visit func(i int)
	visit = func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		for _, d := range p.Stages[i].Deps {
			visit(d)
		}
		p.Order = append(p.Order, i)
	}
	visit(p.Target)
	return p, nil
}

// StageRef resolves a COPY --from value to an earlier stage of plan p seen
// from stage cur: a stage name or a stage number.
func (p *Plan) StageRef(from string, cur int) (int, bool) {
	byName := map[string]int{}
	for _, s := range p.Stages[:cur] {
		if s.Name != "" {
			byName[s.Name] = s.Index
		}
	}
	return stageRef(from, byName, cur)
}

func stageRef(from string, byName map[string]int, cur int) (int, bool) {
	if j, ok := byName[strings.ToLower(from)]; ok {
		return j, true
	}
	if n, err := strconv.Atoi(from); err == nil && n >= 0 && n < cur {
		return n, true
	}
	return 0, false
}

// line returns the first line of a source location, or 0.
func line(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}
