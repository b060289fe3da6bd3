package cli

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Options are the global flags every subcommand sees.
type Options struct {
	// Root holds persistent state: content, snapshots, metadata, volumes.
	Root string
	// RunRoot holds runtime state that must vanish on reboot: locks, sockets, container state.
	RunRoot string
	// LogLevel and LogFormat configure log/slog on stderr.
	LogLevel  string
	LogFormat string
}

// Default state directories; --root and --runroot move them.
const (
	DefaultRoot    = "/var/lib/berth"
	DefaultRunRoot = "/run/berth"
)

// NewRootCmd builds the berth command tree.
func NewRootCmd() *cobra.Command { return newRootCmd("") }

// newRootCmd builds the root command with every subcommand, or when only
// names one (its name, as in commands) with that subcommand alone: building
// every command's flags costs more CPU than a short command's work.
func newRootCmd(only string) *cobra.Command {
	opts := &Options{}
	root := &cobra.Command{
		Use:   "berth",
		Short: "A container platform: runtime, images, builder, registry and engine in one program",
		Long: `berth runs containers from images, builds images from Dockerfiles, moves them
to and from registries, and serves a registry of its own. Its verbs are docker's.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setupLogging(cmd, opts)
		},
	}
	root.SetFlagErrorFunc(usageError)
	f := root.PersistentFlags()
	f.StringVar(&opts.Root, "root", envOr("BERTH_ROOT", DefaultRoot), "directory for persistent state (env BERTH_ROOT)")
	f.StringVar(&opts.RunRoot, "runroot", envOr("BERTH_RUNROOT", DefaultRunRoot), "directory for runtime state (env BERTH_RUNROOT)")
	f.StringVar(&opts.LogLevel, "log-level", "warn", "log level: debug, info, warn, error")
	f.StringVar(&opts.LogFormat, "log-format", "text", "log format: text or json")

	for _, c := range commands {
		if only == "" || c.names[0] == only {
			root.AddCommand(c.new(opts))
		}
	}
	addNetworkConnect(root, opts)
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// setupLogging points log/slog at stderr with the level and format asked for.
func setupLogging(cmd *cobra.Command, opts *Options) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(opts.LogLevel)); err != nil {
		return usageError(cmd, fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", opts.LogLevel))
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(opts.LogFormat) {
	case "text":
		h = slog.NewTextHandler(cmd.ErrOrStderr(), hopts)
	case "json":
		h = slog.NewJSONHandler(cmd.ErrOrStderr(), hopts)
	default:
		return usageError(cmd, fmt.Errorf("invalid --log-format %q: want text or json", opts.LogFormat))
	}
	slog.SetDefault(slog.New(h))
	return nil
}
