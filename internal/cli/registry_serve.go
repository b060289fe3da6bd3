package cli

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/registry"
)

// NewCmdRegistryServe is `berth registry serve`.
func NewCmdRegistryServe(opts *Options) *cobra.Command {
	var (
		configFile string
		c          registry.Config
		gcInterval time.Duration
		gcGrace    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve an OCI distribution-spec v1.1 registry",
		Long: `Serve an OCI distribution-spec v1.1 registry over HTTP or HTTPS.

Content is stored once per digest under --root and shared by all repositories.
With --htpasswd, clients authenticate with HTTP Basic auth (bcrypt entries);
--anonymous-pull lets them pull without credentials. Flags override --config.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := registry.Config{}
			if configFile != "" {
				var err error
				if cfg, err = registry.LoadConfig(configFile); err != nil {
					return usageError(cmd, err)
				}
			}
			f := cmd.Flags()
			set := func(name string, apply func()) {
				if f.Changed(name) || (configFile == "" && name != "root") {
					apply()
				}
			}
			set("addr", func() { cfg.Addr = c.Addr })
			set("htpasswd", func() { cfg.Htpasswd = c.Htpasswd })
			set("anonymous-pull", func() { cfg.AnonymousPull = c.AnonymousPull })
			set("tls-cert", func() { cfg.TLSCert = c.TLSCert })
			set("tls-key", func() { cfg.TLSKey = c.TLSKey })
			set("read-only", func() { cfg.ReadOnly = c.ReadOnly })
			set("allow-sparse", func() { cfg.AllowSparse = c.AllowSparse })
			set("no-access-log", func() { cfg.NoAccessLog = c.NoAccessLog })
			set("gc-interval", func() { cfg.GCInterval = registry.Duration(gcInterval) })
			set("gc-grace", func() { cfg.GCGrace = registry.Duration(gcGrace) })
			if f.Changed("root") || cfg.Root == "" {
				cfg.Root = c.Root
			}
			if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
				return usageError(cmd, fmt.Errorf("--tls-cert and --tls-key must be given together"))
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			return registry.Serve(cmd.Context(), cfg, registry.ServeOptions{
				Log:       log,
				AccessLog: cmd.ErrOrStderr(),
				Ready: func(addr string) {
					fmt.Fprintf(cmd.OutOrStdout(), "berth registry listening on %s\n", addr)
				},
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "JSON configuration file (flags given override it)")
	f.StringVar(&c.Addr, "addr", registry.DefaultAddr, "listen address host:port")
	f.StringVar(&c.Root, "root", defaultRegistryRoot(opts), "storage directory")
	f.StringVar(&c.Htpasswd, "htpasswd", "", "require Basic auth against this htpasswd file (bcrypt)")
	f.BoolVar(&c.AnonymousPull, "anonymous-pull", false, "with --htpasswd, let clients pull without credentials")
	f.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&c.TLSKey, "tls-key", "", "private key for --tls-cert (PEM)")
	f.BoolVar(&c.ReadOnly, "read-only", false, "refuse pushes and deletes")
	f.BoolVar(&c.AllowSparse, "allow-sparse", false, "accept manifests whose blobs are not in the repository")
	f.BoolVar(&c.NoAccessLog, "no-access-log", false, "do not log each request")
	f.DurationVar(&gcInterval, "gc-interval", 0, "collect garbage this often while serving (0: never)")
	f.DurationVar(&gcGrace, "gc-grace", registry.DefaultGCGrace, "spare content touched more recently than this")
	return cmd
}
