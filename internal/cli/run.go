package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdRun creates and starts a container, attached or (-d) detached.
func NewCmdRun(opts *Options) *cobra.Command {
	f := &createFlags{}
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		RunE: func(cmd *cobra.Command, args []string) error {
			// The monitor starts before anything else: until the handoff
			// its start-up is the longer of the two branches.
			pending := spawnMonitor(opts, !detach)
			req, err := f.request(cmd, args)
			if err != nil {
				pending.Close()
				return err
			}
			eng, err := openEngine(opts)
			if err != nil {
				pending.Close()
				return engineError(err)
			}
			return runContainer(cmd, eng, req, detach, pending)
		},
	}
	addCreateFlags(cmd.Flags(), f)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run the container in the background and print its ID")
	return cmd
}

// runContainer is `run`: create, start, and unless detached, attach and
// return the container's exit code. A failed start leaves nothing behind.
func runContainer(cmd *cobra.Command, eng *engine.Engine, req engine.CreateRequest, detach bool, pending *engine.PendingMonitor) error {
	ctx := cmd.Context()
	// The monitor starts while the container is created and prepared.
	if pending == nil {
		var err error
		if pending, err = eng.SpawnMonitor(!detach); err != nil {
			pending = nil // Start starts one
		}
	}
	c, err := eng.Create(ctx, req)
	if err != nil {
		pending.Close()
		return engineError(err)
	}
	if detach {
		if err := eng.Start(ctx, c.ID, engine.StartOptions{Monitor: pending}); err != nil {
			eng.Remove(context.WithoutCancel(ctx), c.ID, engine.RemoveOptions{Force: true, Volumes: true})
			return engineError(err)
		}
		fmt.Fprintln(cmd.OutOrStdout(), c.ID)
		return nil
	}
	// With --rm this client removes the container after its exit, which
	// spares the monitor the image store.
	autoRemove := req.HostConfig.AutoRemove
	// The handoff attaches this client, so the monitor runs the container
	// as soon as it is created.
	pending.PreAttach(autoRemove)
	if err := eng.Start(ctx, c.ID, engine.StartOptions{WaitAttach: true, Monitor: pending}); err != nil {
		if conn := pending.AttachConn(); conn != nil {
			conn.Close()
		}
		eng.Remove(context.WithoutCancel(ctx), c.ID, engine.RemoveOptions{Force: true, Volumes: true})
		return engineError(err)
	}
	code, err := attachStreamsConn(cmd, eng, c.ID, req.Config.OpenStdin, req.Config.Tty, autoRemove, pending.AttachConn())
	if err != nil {
		return engineError(err)
	}
	if autoRemove {
		if err := eng.AwaitRemoval(context.WithoutCancel(ctx), c.ID); err != nil {
			return engineError(err)
		}
	}
	if code != 0 {
		return &errdefs.ExitError{Code: code}
	}
	return nil
}

// attachStreams connects the terminal (or pipes) to the container until it
// exits, forwarding signals (docker's sig-proxy) and terminal sizes.
func attachStreams(cmd *cobra.Command, eng *engine.Engine, id string, stdin, tty bool) (int, error) {
	return attachStreamsRemove(cmd, eng, id, stdin, tty, false)
}

// attachStreamsRemove is attachStreams; remove makes this client the
// remover of a --rm container (engine.AttachOptions.Remove).
func attachStreamsRemove(cmd *cobra.Command, eng *engine.Engine, id string, stdin, tty, remove bool) (int, error) {
	return attachStreamsConn(cmd, eng, id, stdin, tty, remove, nil)
}

// attachStreamsConn is attachStreamsRemove over conn, a connection the
// monitor handoff made (engine.AttachOptions.Conn), when not nil.
func attachStreamsConn(cmd *cobra.Command, eng *engine.Engine, id string, stdin, tty, remove bool, conn *os.File) (int, error) {
	ctx := context.WithoutCancel(cmd.Context())
	ao := engine.AttachOptions{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), Remove: remove}
	if conn != nil {
		ao.Conn = conn
	}
	if tty {
		ao.Stderr = nil
	}
	var in io.Reader = cmd.InOrStdin()
	if stdin {
		ao.Stdin = in
	}
	if tty {
		if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			if st, err := term.MakeRaw(int(f.Fd())); err == nil {
				defer term.Restore(int(f.Fd()), st)
			}
			resize := make(chan [2]uint16, 1)
			ao.Resize = resize
			send := func() {
				if w, h, err := term.GetSize(int(f.Fd())); err == nil {
					select {
					case resize <- [2]uint16{uint16(h), uint16(w)}:
					default:
					}
				}
			}
			send()
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, syscall.SIGWINCH)
			defer signal.Stop(winch)
			go func() {
				for range winch {
					send()
				}
			}()
		}
	} else {
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				if err := eng.Kill(ctx, id, s.(syscall.Signal)); err != nil && !errors.Is(err, errdefs.ErrConflict) {
					fmt.Fprintf(cmd.ErrOrStderr(), "forwarding %v: %v\n", s, err)
				}
			}
		}()
	}
	return eng.Attach(ctx, id, ao)
}
