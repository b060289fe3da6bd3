package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

// blkioWeightToIO maps a blkio weight (10..1000) onto io.weight (1..10000).
func blkioWeightToIO(w uint16) uint64 {
	return 1 + (uint64(w)-10)*9999/990
}

// exists reports whether dir/file exists.
func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

func (m *manager) setBlkio(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	empty := (b.Weight == nil || *b.Weight == 0) && (b.LeafWeight == nil || *b.LeafWeight == 0) && len(b.WeightDevice) == 0
	for _, l := range throttles(b) {
		empty = empty && len(l) == 0
	}
	if empty {
		return nil
	}
	dir, v2, err := m.need("blkio", "blockIO")
	if err != nil {
		return err
	}
	if v2 {
		return setIOV2(dir, b)
	}
	// Modern kernels have no CFQ: weights live in blkio.bfq.* when the BFQ
	// scheduler is built, and nowhere otherwise.
	weightFile, weightDevFile := "blkio.weight", "blkio.weight_device"
	if !exists(dir, weightFile) {
		weightFile, weightDevFile = "blkio.bfq.weight", "blkio.bfq.weight_device"
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := setBlkioFile(res+"blockIO.weight", dir, weightFile, strconv.Itoa(int(*b.Weight))); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := setBlkioFile(res+"blockIO.leafWeight", dir, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight))); err != nil {
			return err
		}
	}
	for i, d := range b.WeightDevice {
		f := fmt.Sprintf("%sblockIO.weightDevice[%d]", res, i)
		if d.Weight != nil && *d.Weight != 0 {
			if err := setBlkioFile(f+".weight", dir, weightDevFile, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.Weight)); err != nil {
				return err
			}
		}
		if d.LeafWeight != nil && *d.LeafWeight != 0 {
			if err := setBlkioFile(f+".leafWeight", dir, "blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", d.Major, d.Minor, *d.LeafWeight)); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		name, file string
		list       []specs.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for i, d := range t.list {
			f := fmt.Sprintf("%sblockIO.%s[%d]", res, t.name, i)
			if err := setBlkioFile(f, dir, t.file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setBlkioFile is setFile with a hint: weights need the BFQ I/O scheduler,
// and a device the kernel does not know is refused with ENODEV.
func setBlkioFile(fld, dir, file, value string) error {
	err := setFile(fld, dir, file, value)
	var fe *FieldError
	if errors.As(err, &fe) && errors.Is(err, errdefs.ErrUnavailable) {
		fe.Msg += "; block I/O weights need the BFQ scheduler (CFQ is gone from modern kernels)"
	}
	return err
}

func setIOV2(dir string, b *specs.LinuxBlockIO) error {
	bfq := exists(dir, "io.bfq.weight")
	weight := func(w uint16) string {
		if bfq {
			return strconv.Itoa(int(w))
		}
		return strconv.FormatUint(blkioWeightToIO(w), 10)
	}
	file := "io.weight"
	if bfq {
		file = "io.bfq.weight"
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		return fieldErr(res+"blockIO.leafWeight", errdefs.ErrUnavailable, "cgroup v2 has no leaf weight")
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := setFile(res+"blockIO.weight", dir, file, "default "+weight(*b.Weight)); err != nil {
			return err
		}
	}
	for i, d := range b.WeightDevice {
		f := fmt.Sprintf("%sblockIO.weightDevice[%d]", res, i)
		if d.LeafWeight != nil && *d.LeafWeight != 0 {
			return fieldErr(f+".leafWeight", errdefs.ErrUnavailable, "cgroup v2 has no leaf weight")
		}
		if d.Weight != nil && *d.Weight != 0 {
			if err := setFile(f+".weight", dir, file, fmt.Sprintf("%d:%d %s", d.Major, d.Minor, weight(*d.Weight))); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		name, key string
		list      []specs.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "wiops", b.ThrottleWriteIOPSDevice},
	} {
		for i, d := range t.list {
			rate := "max"
			if d.Rate != 0 {
				rate = strconv.FormatUint(d.Rate, 10)
			}
			f := fmt.Sprintf("%sblockIO.%s[%d]", res, t.name, i)
			if err := setFile(f, dir, "io.max", fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, rate)); err != nil {
				return err
			}
		}
	}
	return nil
}
