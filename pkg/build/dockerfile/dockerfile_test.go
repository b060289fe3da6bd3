package dockerfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unknown instruction", "FROM scratch\nFROB x\n", []string{"Dockerfile:2:", "unknown instruction: FROB", "FROB x"}},
		{"no FROM", "ENV a=b\n", []string{"Dockerfile:1:", "before the first FROM"}},
		{"empty", "# only a comment\n", []string{"no instructions"}},
		{"bad env", "FROM scratch\nENV\n", []string{"Dockerfile:2:", "ENV"}},
		{"copy without dest", "FROM scratch\nCOPY a\n", []string{"Dockerfile:2:", "COPY requires at least two arguments"}},
		{"bad escape directive", "# escape=xx\nFROM scratch\n", []string{"escape"}},
		{"only args", "ARG a=1\n", []string{"no FROM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.src), "Dockerfile")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("error %v is not ErrInvalidArgument", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestPlan(t *testing.T) {
	src := `ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-latest} AS base
RUN echo base
FROM base AS build
COPY --from=base /a /b
FROM scratch AS unused
COPY x y
FROM scratch AS final
COPY --from=build /b /c
COPY --from=other:1 /d /e
`
	f, err := Parse(strings.NewReader(src), "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		args   map[string]string
		order  []int
		base0  string
	}{
		{"", nil, []int{0, 1, 3}, "busybox:latest"},
		{"build", map[string]string{"TAG": "1.36"}, []int{0, 1}, "busybox:1.36"},
		{"unused", nil, []int{2}, "busybox:latest"},
		{"base", map[string]string{"BASE": "alpine"}, []int{0}, "alpine:latest"},
	} {
		p, err := NewPlan(f, tc.target, tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Order; !equalInts(got, tc.order) {
			t.Errorf("target %q: order %v, want %v", tc.target, got, tc.order)
		}
		if p.Stages[0].Base != tc.base0 {
			t.Errorf("target %q: base %q, want %q", tc.target, p.Stages[0].Base, tc.base0)
		}
	}
	p, _ := NewPlan(f, "", nil)
	if got := p.Stages[3].Images; len(got) != 1 || got[0] != "other:1" {
		t.Errorf("image deps %v", got)
	}
	if p.Stages[1].BaseStage != 0 {
		t.Errorf("build stage base %d", p.Stages[1].BaseStage)
	}
	if _, err := NewPlan(f, "nope", nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown target: %v", err)
	}
}

func TestPlanErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"duplicate stage", "FROM scratch AS a\nFROM scratch AS a\n", "duplicate stage name"},
		{"forward copy", "FROM scratch\nCOPY --from=1 a b\nFROM scratch\n", "not before this one"},
		{"empty base", "ARG X\nFROM $X\n", "empty base name"},
		{"run mount", "FROM scratch\nRUN --mount=type=cache,target=/x true\n", "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(strings.NewReader(tc.src), "Dockerfile")
			if err == nil {
				_, err = NewPlan(f, "", nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestExpander(t *testing.T) {
	e := NewExpander('\\', []string{"A=env", "P=/x"}, map[string]string{"A": "arg", "B": "b"})
	for in, want := range map[string]string{
		"$A":            "env",
		"${B}-$P":       "b-/x",
		"${C:-default}": "default",
		"${B:+set}":     "set",
		`\$A`:           "$A",
		"'$A'":          "$A",
	} {
		got, err := e.Word(in)
		if err != nil || got != want {
			t.Errorf("Word(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got := SetEnv([]string{"A=1", "B=2"}, "A", "3"); strings.Join(got, ",") != "A=3,B=2" {
		t.Errorf("SetEnv: %v", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
