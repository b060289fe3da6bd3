package runtimecli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// NewCmdRuntimePs is `ps`: the container's processes.
func NewCmdRuntimePs(ropts *RuntimeOptions) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [--format table|json] CONTAINER [PS_ARGS...]",
		Short: "List the processes of a container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			pids, err := rt.Ps(args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(out).Encode(pids)
			}
			if format != "table" {
				return usageError(cmd, fmt.Errorf("invalid --format %q: want table or json", format))
			}
			psArgs := []string{"-ef"}
			if len(args) > 1 {
				psArgs = args[1:]
			}
			psOut, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("running ps %v: %w", psArgs, err)
			}
			lines := strings.Split(strings.TrimRight(string(psOut), "\n"), "\n")
			col := -1
			for i, h := range strings.Fields(lines[0]) {
				if h == "PID" {
					col = i
				}
			}
			if col < 0 {
				return fmt.Errorf("ps output has no PID column")
			}
			in := map[int]bool{}
			for _, p := range pids {
				in[p] = true
			}
			var buf bytes.Buffer
			buf.WriteString(lines[0] + "\n")
			for _, l := range lines[1:] {
				f := strings.Fields(l)
				if len(f) > col {
					if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
						buf.WriteString(l + "\n")
					}
				}
			}
			_, err = out.Write(buf.Bytes())
			return err
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	return cmd
}
