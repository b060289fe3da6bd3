// Package dockerfile reads a Dockerfile into build stages with BuildKit's
// parser and instruction packages, and gives them berth's meaning: which
// stages a target needs, how ARG and ENV scope, how words expand.
package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/berth/berth/pkg/errdefs"
)

// MaxSize bounds the Dockerfile we read: it is user input held in memory.
const MaxSize = 4 << 20

// File is a parsed Dockerfile.
type File struct {
	// Name is how errors refer to the file ("Dockerfile").
	Name string
	// Stages are the FROM-delimited stages in file order.
	Stages []instructions.Stage
	// MetaArgs are the ARGs before the first FROM; they are visible to FROM lines only.
	MetaArgs []instructions.ArgCommand
	// Escape is the escape character set by the escape parser directive.
	Escape rune
	// Warnings are the parser's complaints that do not stop the build.
	Warnings []string

	lines []string
}

// SyntaxError is a Dockerfile the builder cannot read. It names the file and
// line and quotes the offending text.
type SyntaxError struct {
	File string
	Line int
	Text string
	Err  error
}

func (e *SyntaxError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v\n    %d | %s", e.File, e.Line, e.Err, e.Line, e.Text)
}

// Unwrap lets callers match errdefs.ErrInvalidArgument and the cause.
func (e *SyntaxError) Unwrap() []error { return []error{errdefs.ErrInvalidArgument, e.Err} }

// Parse reads a Dockerfile named name (used in error messages) from r.
func Parse(r io.Reader, name string) (*File, error) {
	src, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(src) > MaxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", name, MaxSize, errdefs.ErrInvalidArgument)
	}
	f := &File{Name: name, lines: strings.Split(string(src), "\n")}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, f.errorAt(err, 0)
	}
	f.Escape = res.EscapeToken
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		f.Warnings = append(f.Warnings, fmt.Sprintf("%s:%d: %s", name, line, w.Short))
	}
	if len(res.AST.Children) == 0 {
		return nil, &SyntaxError{File: name, Err: errors.New("the file has no instructions")}
	}
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseInstruction(n)
		if err != nil {
			return nil, f.errorAt(err, n.StartLine)
		}
		switch c := cmd.(type) {
		case *instructions.Stage:
			f.Stages = append(f.Stages, *c)
		case *instructions.ArgCommand:
			if len(f.Stages) == 0 {
				f.MetaArgs = append(f.MetaArgs, *c)
				continue
			}
			f.Stages[len(f.Stages)-1].AddCommand(c)
		case instructions.Command:
			if len(f.Stages) == 0 {
				return nil, f.errorAt(fmt.Errorf("%s before the first FROM: only ARG may come before FROM", strings.ToUpper(c.Name())), n.StartLine)
			}
			f.Stages[len(f.Stages)-1].AddCommand(c)
		default:
			return nil, f.errorAt(fmt.Errorf("unexpected %T", cmd), n.StartLine)
		}
	}
	if len(f.Stages) == 0 {
		return nil, &SyntaxError{File: name, Err: errors.New("no FROM instruction: a Dockerfile must start a stage with FROM")}
	}
	return f, nil
}

// errorAt wraps a parser error with the file, its line and the line's text.
// BuildKit errors carry their own location when they know better than line.
func (f *File) errorAt(err error, line int) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	var ue *instructions.UnknownInstructionError
	if errors.As(err, &ue) {
		err = fmt.Errorf("unknown instruction: %s", strings.ToUpper(ue.Instruction))
	} else if strings.HasPrefix(err.Error(), "dockerfile parse error") {
		err = errors.New(innermost(err))
	}
	return &SyntaxError{File: f.Name, Line: line, Text: f.Line(line), Err: err}
}

// innermost returns the message of the deepest wrapped error, without
// BuildKit's "dockerfile parse error on line N:" prefix, which we say ourselves.
func innermost(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// Line returns line n (1-based) of the source, trimmed, or "".
func (f *File) Line(n int) string {
	if n < 1 || n > len(f.lines) {
		return ""
	}
	return strings.TrimSpace(f.lines[n-1])
}
