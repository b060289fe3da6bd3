package cli

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/berth/berth/pkg/engine"
)

// resFlags are docker's resource flags that run, create and update share
// beyond --memory, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus and
// --pids-limit: --cpu-period, --cpu-quota, --cpuset-mems,
// --memory-reservation and --blkio-weight.
type resFlags struct {
	cpuPeriod, cpuQuota           int64
	cpusetMems, memoryReservation string
	blkioWeight                   uint16
}

func addResourceFlags(fs *pflag.FlagSet, f *resFlags) {
	fs.Int64Var(&f.cpuPeriod, "cpu-period", 0, "limit CPU CFS (Completely Fair Scheduler) period, in microseconds (1000-1000000)")
	fs.Int64Var(&f.cpuQuota, "cpu-quota", 0, "limit CPU CFS (Completely Fair Scheduler) quota, in microseconds per period (-1 for none)")
	fs.StringVar(&f.cpusetMems, "cpuset-mems", "", "memory nodes (MEMs) in which to allow execution (0-3, 0,1)")
	fs.StringVar(&f.memoryReservation, "memory-reservation", "", "memory soft limit (e.g. 256m)")
	fs.Uint16Var(&f.blkioWeight, "blkio-weight", 0, "block IO (relative weight), between 10 and 1000, or 0 to disable")
}

// reservation parses --memory-reservation.
func (f *resFlags) reservation() (int64, error) {
	if f.memoryReservation == "" {
		return 0, nil
	}
	v, err := engine.ParseBytes(f.memoryReservation)
	if err != nil {
		return 0, fmt.Errorf("invalid argument %q for \"--memory-reservation\" flag: %v", f.memoryReservation, err)
	}
	return v, nil
}

// blkio is --blkio-weight, discarded with docker's warning on a host whose
// cgroups cannot weigh block I/O.
func (f *resFlags) blkio(warn io.Writer) uint16 {
	if f.blkioWeight == 0 || engine.BlkioWeightSupported() {
		return f.blkioWeight
	}
	fmt.Fprintln(warn, engine.BlkioWeightWarning)
	return 0
}

// apply puts the flags of run and create into h (the engine validates
// the values as docker's daemon does).
func (f *resFlags) apply(warn io.Writer, h *engine.HostConfig) error {
	resv, err := f.reservation()
	if err != nil {
		return err
	}
	h.CpuPeriod, h.CpuQuota, h.CpusetMems, h.MemoryReservation = f.cpuPeriod, f.cpuQuota, f.cpusetMems, resv
	h.BlkioWeight = f.blkio(warn)
	return nil
}

// update puts the flags given to `update` into req and counts them.
func (f *resFlags) update(fs *pflag.FlagSet, warn io.Writer, req *engine.UpdateRequest) (int, error) {
	n := 0
	if fs.Changed("cpu-period") {
		req.CpuPeriod, n = &f.cpuPeriod, n+1
	}
	if fs.Changed("cpu-quota") {
		req.CpuQuota, n = &f.cpuQuota, n+1
	}
	if fs.Changed("cpuset-mems") {
		req.CpusetMems, n = &f.cpusetMems, n+1
	}
	if fs.Changed("memory-reservation") {
		v, err := f.reservation()
		if err != nil {
			return 0, err
		}
		req.MemoryReservation, n = &v, n+1
	}
	if fs.Changed("blkio-weight") {
		w := f.blkio(warn)
		req.BlkioWeight, n = &w, n+1
	}
	return n, nil
}
