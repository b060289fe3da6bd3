package runtimecli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/errdefs"
)

// NewCmdRuntimeUpdate is `update`: change a running container's resource limits.
func NewCmdRuntimeUpdate(ropts *RuntimeOptions) *cobra.Command {
	var resources string
	var memory, memSwap, memRes, cpuQuota, pidsLimit int64
	var cpuShares, cpuPeriod uint64
	var cpus, mems string
	cmd := &cobra.Command{
		Use:   "update [flags] CONTAINER",
		Short: "Update the resource limits of a container (--resources FILE or - for stdin)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := ropts.runtime()
			if err != nil {
				return err
			}
			res := &specs.LinuxResources{}
			if resources != "" {
				var r io.Reader = cmd.InOrStdin()
				if resources != "-" {
					f, err := os.Open(resources)
					if err != nil {
						return fmt.Errorf("--resources: %w", err)
					}
					defer f.Close()
					r = f
				} else if cmd.InOrStdin() == nil {
					r = os.Stdin
				}
				if err := json.NewDecoder(r).Decode(res); err != nil {
					return fmt.Errorf("--resources: not valid LinuxResources JSON: %v: %w", err, errdefs.ErrInvalidArgument)
				}
			}
			fl := cmd.Flags()
			mem := func() *specs.LinuxMemory {
				if res.Memory == nil {
					res.Memory = &specs.LinuxMemory{}
				}
				return res.Memory
			}
			cpu := func() *specs.LinuxCPU {
				if res.CPU == nil {
					res.CPU = &specs.LinuxCPU{}
				}
				return res.CPU
			}
			if fl.Changed("memory") {
				mem().Limit = &memory
			}
			if fl.Changed("memory-swap") {
				mem().Swap = &memSwap
			}
			if fl.Changed("memory-reservation") {
				mem().Reservation = &memRes
			}
			if fl.Changed("cpu-shares") {
				cpu().Shares = &cpuShares
			}
			if fl.Changed("cpu-quota") {
				cpu().Quota = &cpuQuota
			}
			if fl.Changed("cpu-period") {
				cpu().Period = &cpuPeriod
			}
			if fl.Changed("cpuset-cpus") {
				cpu().Cpus = cpus
			}
			if fl.Changed("cpuset-mems") {
				cpu().Mems = mems
			}
			if fl.Changed("pids-limit") {
				res.Pids = &specs.LinuxPids{Limit: &pidsLimit}
			}
			return rt.Update(args[0], res)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&resources, "resources", "r", "", "path to a LinuxResources JSON file, - for stdin")
	f.Int64Var(&memory, "memory", 0, "memory limit in bytes")
	f.Int64Var(&memSwap, "memory-swap", 0, "memory plus swap limit in bytes")
	f.Int64Var(&memRes, "memory-reservation", 0, "memory soft limit in bytes")
	f.Uint64Var(&cpuShares, "cpu-shares", 0, "CPU shares (relative weight)")
	f.Int64Var(&cpuQuota, "cpu-quota", 0, "CFS quota in microseconds")
	f.Uint64Var(&cpuPeriod, "cpu-period", 0, "CFS period in microseconds")
	f.StringVar(&cpus, "cpuset-cpus", "", "CPUs to run on")
	f.StringVar(&mems, "cpuset-mems", "", "memory nodes to use")
	f.Int64Var(&pidsLimit, "pids-limit", 0, "maximum number of processes")
	return cmd
}
