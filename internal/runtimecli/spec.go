package runtimecli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/runtime"
)

// NewCmdRuntimeSpec is `spec`: write a starting config.json, like `runc spec`.
func NewCmdRuntimeSpec(ropts *RuntimeOptions) *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{
		Use:   "spec [--bundle DIR]",
		Short: "Write a default config.json into the bundle directory",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rootless {
				return fmt.Errorf("--rootless specs are not supported: %w", errdefs.ErrNotImplemented)
			}
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("file %s exists: remove it first: %w", path, errdefs.ErrAlreadyExists)
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			b, err := json.MarshalIndent(runtime.DefaultSpec(), "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(b, '\n'), 0o666)
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "bundle directory to write config.json into")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "generate a rootless spec (not supported)")
	return cmd
}
