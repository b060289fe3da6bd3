package cli

import (
	"slices"
	"testing"
)

// TestCommandTable checks that the commands table names every subcommand of
// the full tree with its name and aliases, so that Main's lookup builds the
// right command.
func TestCommandTable(t *testing.T) {
	root := NewRootCmd()
	seen := map[string]bool{}
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		seen[c.Name()] = true
		for _, n := range append([]string{c.Name()}, c.Aliases...) {
			if got := lookupCommand([]string{n}); got != c.Name() {
				t.Errorf("lookupCommand(%q) = %q, want %q", n, got, c.Name())
			}
		}
		var entry *command
		for i := range commands {
			if commands[i].names[0] == c.Name() {
				entry = &commands[i]
			}
		}
		if entry == nil {
			t.Errorf("command %q is not in the commands table", c.Name())
			continue
		}
		want := append([]string{c.Name()}, c.Aliases...)
		if !slices.Equal(entry.names, want) {
			t.Errorf("commands table names %q, the command has %q", entry.names, want)
		}
	}
	for _, c := range commands {
		if !seen[c.names[0]] {
			t.Errorf("commands table has %q, which the tree lacks", c.names[0])
		}
	}
}

func TestLookupCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rm", "img"}, "run"},
		{[]string{"--root", "/x", "--runroot=/y", "run", "img"}, "run"},
		{[]string{"--log-level", "debug", "ps", "-a"}, "ps"},
		{[]string{"ls"}, "ps"},
		{[]string{"help", "run"}, ""},
		{[]string{"--help"}, ""},
		{[]string{"-v", "run"}, ""},
		{[]string{"nosuch"}, ""},
		{[]string{"--root"}, ""},
		{nil, ""},
	} {
		if got := lookupCommand(tc.args); got != tc.want {
			t.Errorf("lookupCommand(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestNewRootCmdOnly checks that a root built for one command runs it
// with the global flags.
func TestNewRootCmdOnly(t *testing.T) {
	root := newRootCmd("version")
	if n := len(root.Commands()); n < 1 {
		t.Fatalf("root for version has %d commands", n)
	}
	if c, _, err := root.Find([]string{"version"}); err != nil || c.Name() != "version" {
		t.Fatalf("Find(version) = %v, %v", c, err)
	}
	if root.PersistentFlags().Lookup("root") == nil {
		t.Fatal("global --root flag missing")
	}
}
