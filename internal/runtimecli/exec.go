package runtimecli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/runtime"
)

// NewCmdRuntimeExec is `exec`: run another process in a running container.
func NewCmdRuntimeExec(ropts *RuntimeOptions) *cobra.Command {
	var (
		processFile, pidFile, consoleSocket, cwd, user string
		env, caps                                      []string
		gids                                           []int
		detach, tty, noNewPrivs                        bool
		preserveFDs                                    int
	)
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER [COMMAND [ARG...]]",
		Short: "Run a process in a running container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			var p *specs.Process
			if processFile != "" {
				b, err := os.ReadFile(processFile)
				if err != nil {
					return fmt.Errorf("--process: %w", err)
				}
				p = &specs.Process{}
				if err := json.Unmarshal(b, p); err != nil {
					return fmt.Errorf("--process %s: %v: %w", processFile, err, errdefs.ErrInvalidArgument)
				}
			} else {
				if len(args) < 2 {
					return usageError(cmd, fmt.Errorf("exec needs a command (or --process)"))
				}
				st, err := rt.Config(args[0])
				if err != nil {
					return err
				}
				base := st.Process
				p = &specs.Process{
					Args: args[1:], Env: base.Env, Cwd: base.Cwd, User: base.User,
					Capabilities: base.Capabilities, NoNewPrivileges: base.NoNewPrivileges,
					Rlimits: base.Rlimits, ApparmorProfile: base.ApparmorProfile,
				}
				p.User.AdditionalGids = append([]uint32(nil), base.User.AdditionalGids...)
			}
			p.Terminal = p.Terminal || tty
			p.Env = append(p.Env, env...)
			if cwd != "" {
				p.Cwd = cwd
			}
			if noNewPrivs {
				p.NoNewPrivileges = true
			}
			if user != "" {
				uid, gid, err := parseUser(user)
				if err != nil {
					return err
				}
				p.User.UID, p.User.GID = uid, gid
			}
			for _, g := range gids {
				p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
			}
			if len(caps) > 0 {
				if p.Capabilities == nil {
					p.Capabilities = &specs.LinuxCapabilities{}
				}
				c := p.Capabilities
				c.Bounding = append(c.Bounding, caps...)
				c.Effective = append(c.Effective, caps...)
				c.Permitted = append(c.Permitted, caps...)
			}
			code, err := rt.Exec(args[0], &runtime.ExecOptions{
				Process: p, Detach: detach, PidFile: pidFile, ConsoleSocket: consoleSocket,
				PreserveFDs: preserveFDs, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
			})
			if err != nil {
				return err
			}
			if code != 0 {
				return &errdefs.ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVarP(&processFile, "process", "p", "", "path to a process.json (OCI Process)")
	f.BoolVarP(&detach, "detach", "d", false, "return once the process runs")
	f.StringVar(&pidFile, "pid-file", "", "file to write the process's pid to")
	f.StringVar(&consoleSocket, "console-socket", "", "unix socket that receives the pty master")
	f.BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.StringArrayVarP(&env, "env", "e", nil, "set an environment variable (KEY=VALUE)")
	f.StringVar(&cwd, "cwd", "", "working directory in the container")
	f.StringVarP(&user, "user", "u", "", "UID[:GID] to run as")
	f.IntSliceVarP(&gids, "additional-gids", "g", nil, "additional group ids")
	f.StringArrayVarP(&caps, "cap", "c", nil, "add a capability")
	f.BoolVar(&noNewPrivs, "no-new-privs", false, "set no_new_privs")
	f.IntVar(&preserveFDs, "preserve-fds", 0, "pass N additional file descriptors (from 3) to the process")
	f.String("apparmor", "", "AppArmor profile (not supported; accepted when empty)")
	f.String("process-label", "", "SELinux label (not supported; accepted when empty)")
	f.Bool("ignore-paused", false, "accepted for compatibility")
	return cmd
}

// parseUser reads UID[:GID]; names need the container's /etc/passwd, which
// the caller resolves.
func parseUser(s string) (uint32, uint32, error) {
	u, g, _ := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want numeric UID[:GID]: %w", s, errdefs.ErrInvalidArgument)
	}
	var gid uint64
	if g != "" {
		if gid, err = strconv.ParseUint(g, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("--user %q: want numeric UID[:GID]: %w", s, errdefs.ErrInvalidArgument)
		}
	}
	return uint32(uid), uint32(gid), nil
}
