package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/registry"
	"github.com/berth/berth/pkg/registry/storage"
)

// NewCmdRegistryGC is `berth registry gc`.
func NewCmdRegistryGC(opts *Options) *cobra.Command {
	var (
		root      string
		dryRun    bool
		grace     time.Duration
		uploadTTL time.Duration
	)
	cmd := &cobra.Command{
		Use:   "gc [flags]",
		Short: "Remove unreferenced blobs and untagged manifests from a registry's storage",
		Long: `Remove blobs no manifest references and manifests no tag (or kept index or
subject) reaches. Safe while 'berth registry serve' is serving the same
directory: content touched within --grace is spared, and a push in flight
never loses a blob it is about to reference.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := storage.Open(root)
			if err != nil {
				return err
			}
			rep, err := st.GC(cmd.Context(), storage.GCOptions{DryRun: dryRun, Grace: grace, UploadTTL: uploadTTL})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			verb := "removed"
			if dryRun {
				verb = "would remove"
			}
			for _, p := range rep.Removed {
				fmt.Fprintf(out, "%s %s\n", verb, p)
			}
			fmt.Fprintf(out, "%s %d blobs (%d bytes), %d manifests, %d blob links, %d uploads\n",
				verb, rep.BlobsRemoved, rep.BytesRemoved, rep.ManifestsRemoved, rep.LinksRemoved, rep.UploadsRemoved)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&root, "root", defaultRegistryRoot(opts), "storage directory")
	f.BoolVar(&dryRun, "dry-run", false, "report what would be removed, remove nothing")
	f.DurationVar(&grace, "grace", registry.DefaultGCGrace, "spare content touched more recently than this")
	f.DurationVar(&uploadTTL, "upload-ttl", registry.DefaultUploadTTL, "remove uploads idle for longer than this")
	return cmd
}
