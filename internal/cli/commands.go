package cli

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/runtimecli"
)

// command is one subcommand of berth: its name and aliases, and how to
// build it. Main builds only the command it runs (see newRootCmd);
// TestCommandTable checks these names against the commands themselves.
type command struct {
	names []string
	new   func(*Options) *cobra.Command
}

// commands are berth's subcommands, in the order help lists them in.
var commands = []command{
	{[]string{"version"}, NewCmdVersion},
	{[]string{"runtime"}, func(*Options) *cobra.Command { return runtimecli.NewRuntimeCmd("runtime") }},
	{[]string{"image"}, NewCmdImage},
	{[]string{"import"}, NewCmdImport},
	{[]string{"registry"}, NewCmdRegistry},
	{[]string{"network"}, NewCmdNetwork},
	{[]string{"run"}, NewCmdRun},
	{[]string{"create"}, NewCmdCreate},
	{[]string{"start"}, NewCmdStart},
	{[]string{"stop"}, NewCmdStop},
	{[]string{"restart"}, NewCmdRestart},
	{[]string{"kill"}, NewCmdKill},
	{[]string{"rm", "remove"}, NewCmdRm},
	{[]string{"ps", "ls", "list"}, NewCmdPs},
	{[]string{"logs"}, NewCmdLogs},
	{[]string{"exec"}, NewCmdExec},
	{[]string{"wait"}, NewCmdWait},
	{[]string{"inspect"}, NewCmdInspect},
	{[]string{"monitor"}, NewCmdMonitor},
	{[]string{"pull"}, NewCmdPull},
	{[]string{"push"}, NewCmdPush},
	{[]string{"images"}, NewCmdImages},
	{[]string{"tag"}, NewCmdTag},
	{[]string{"rmi"}, NewCmdRmi},
	{[]string{"history"}, NewCmdHistory},
	{[]string{"save"}, NewCmdSave},
	{[]string{"load"}, NewCmdLoad},
	{[]string{"login"}, NewCmdLogin},
	{[]string{"logout"}, NewCmdLogout},
	{[]string{"system"}, NewCmdSystem},
	{[]string{"attach"}, NewCmdAttach},
	{[]string{"port"}, NewCmdPort},
	{[]string{"top"}, NewCmdTop},
	{[]string{"stats"}, NewCmdStats},
	{[]string{"cp"}, NewCmdCp},
	{[]string{"container"}, NewCmdContainer},
	{[]string{"volume"}, NewCmdVolume},
	{[]string{"build"}, NewCmdBuild},
	{[]string{"builder"}, NewCmdBuilder},
	{[]string{"pause"}, NewCmdPause},
	{[]string{"unpause"}, NewCmdUnpause},
	{[]string{"rename"}, NewCmdRename},
	{[]string{"update"}, NewCmdUpdate},
	{[]string{"commit"}, NewCmdCommit},
	{[]string{"events"}, NewCmdEvents},
}

// lookupCommand returns the name of the subcommand args (without the program
// name) run, or "" when it cannot tell cheaply (help, an unknown command, an
// unknown global flag before the command): then every command is built.
func lookupCommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "--root", "--runroot", "--log-level", "--log-format":
			i++ // the flag's value
			continue
		}
		if len(a) > 0 && a[0] == '-' {
			for _, f := range []string{"--root=", "--runroot=", "--log-level=", "--log-format="} {
				if len(a) > len(f) && a[:len(f)] == f {
					a = ""
					break
				}
			}
			if a == "" {
				continue
			}
			return ""
		}
		for _, c := range commands {
			for _, n := range c.names {
				if n == a {
					return c.names[0]
				}
			}
		}
		return ""
	}
	return ""
}
