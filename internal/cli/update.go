package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/engine"
)

// NewCmdUpdate changes the resource limits and restart policy of containers.
func NewCmdUpdate(opts *Options) *cobra.Command {
	var memory, memorySwap, cpusetCpus, restart string
	var cpus float64
	var cpuShares, pidsLimit int64
	var res resFlags
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			var req engine.UpdateRequest
			n := 0
			if fl.Changed("memory") {
				v, err := engine.ParseBytes(memory)
				if err != nil {
					return usageError(cmd, fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: %v", memory, err))
				}
				req.Memory, n = &v, n+1
			}
			if fl.Changed("memory-swap") {
				v := int64(-1)
				if memorySwap != "-1" {
					var err error
					if v, err = engine.ParseBytes(memorySwap); err != nil {
						return usageError(cmd, fmt.Errorf("invalid argument %q for \"--memory-swap\" flag: %v", memorySwap, err))
					}
				}
				req.MemorySwap, n = &v, n+1
			}
			if fl.Changed("cpus") {
				if cpus < 0 {
					return usageError(cmd, errors.New("range of CPUs is from 0.01 to the number of CPUs available"))
				}
				v := int64(cpus * 1e9)
				req.NanoCpus, n = &v, n+1
			}
			if fl.Changed("cpu-shares") {
				req.CpuShares, n = &cpuShares, n+1
			}
			if fl.Changed("cpuset-cpus") {
				req.CpusetCpus, n = &cpusetCpus, n+1
			}
			if fl.Changed("pids-limit") {
				req.PidsLimit, n = &pidsLimit, n+1
			}
			if fl.Changed("restart") {
				p, err := engine.ParseRestartPolicy(restart)
				if err != nil {
					return usageError(cmd, err)
				}
				req.RestartPolicy, n = &p, n+1
			}
			m, err := res.update(fl, cmd.ErrOrStderr(), &req)
			if err != nil {
				return usageError(cmd, err)
			}
			n += m
			if n == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			eng, err := openEngine(opts)
			if err != nil {
				return engineError(err)
			}
			return eachContainer(cmd, args, func(ref string) error { return eng.UpdateContainer(cmd.Context(), ref, req) })
		},
	}
	f := cmd.Flags()
	f.StringVarP(&memory, "memory", "m", "", "memory limit (e.g. 512m, 1g)")
	f.StringVar(&memorySwap, "memory-swap", "", "memory plus swap limit; -1 for unlimited swap")
	f.Float64Var(&cpus, "cpus", 0, "number of CPUs (0 removes the limit)")
	f.Int64VarP(&cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.StringVar(&cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.Int64Var(&pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	f.StringVar(&restart, "restart", "", "restart policy to apply when a container exits")
	addResourceFlags(f, &res)
	return cmd
}
