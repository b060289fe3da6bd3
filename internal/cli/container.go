package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// NewCmdContainer groups the container verbs (docker container ...).
func NewCmdContainer(opts *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdPs(opts), NewCmdContainerPrune(opts), NewCmdRun(opts), NewCmdCreate(opts), NewCmdStart(opts),
		NewCmdStop(opts), NewCmdRestart(opts), NewCmdKill(opts), NewCmdRm(opts), NewCmdLogs(opts), NewCmdExec(opts),
		NewCmdWait(opts), NewCmdInspect(opts), NewCmdStats(opts), NewCmdTop(opts), NewCmdPort(opts), NewCmdCp(opts), NewCmdAttach(opts))
	cmd.AddCommand(NewCmdPause(opts), NewCmdUnpause(opts), NewCmdRename(opts), NewCmdUpdate(opts), NewCmdCommit(opts))
	return cmd
}

// NewCmdContainerPrune removes every stopped container.
func NewCmdContainerPrune(opts *Options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				fmt.Fprint(cmd.OutOrStdout(), "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
				line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return nil
				}
			}
			eng, err := openEngine(opts)
			if err != nil {
				return err
			}
			ids, err := eng.Prune(cmd.Context())
			if len(ids) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "Deleted Containers:")
				for _, id := range ids {
					fmt.Fprintln(cmd.OutOrStdout(), id)
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}
