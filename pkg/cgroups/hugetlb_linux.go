package cgroups

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/pkg/errdefs"
)

// hugePageSizes lists the host's huge page sizes in the spelling of the
// hugetlb control files ("2MB", "1GB").
var hugePageSizes = sync.OnceValue(func() []string {
	ents, err := os.ReadDir("/sys/kernel/mm/hugepages")
	if err != nil {
		return nil
	}
	var sizes []string
	for _, e := range ents {
		kb, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(kb, "kB"), 10, 64)
		if err != nil {
			continue
		}
		sizes = append(sizes, pageSizeName(n))
	}
	return sizes
})

// pageSizeName spells a size in kB the way hugetlb files do.
func pageSizeName(kb uint64) string {
	switch {
	case kb >= 1<<20 && kb%(1<<20) == 0:
		return fmt.Sprintf("%dGB", kb>>20)
	case kb >= 1<<10 && kb%(1<<10) == 0:
		return fmt.Sprintf("%dMB", kb>>10)
	default:
		return fmt.Sprintf("%dKB", kb)
	}
}

func (m *manager) setHugetlb(r *specs.LinuxResources) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	dir, v2, err := m.need("hugetlb", "hugepageLimits")
	if err != nil {
		return err
	}
	sizes := hugePageSizes()
	for i, h := range r.HugepageLimits {
		f := fmt.Sprintf("%shugepageLimits[%d]", res, i)
		if !contains(sizes, h.Pagesize) {
			return fieldErr(f+".pageSize", errdefs.ErrUnavailable, "the host has no %s huge pages (it has %v)", h.Pagesize, sizes)
		}
		limit, rsvd := "hugetlb."+h.Pagesize+".limit_in_bytes", "hugetlb."+h.Pagesize+".rsvd.limit_in_bytes"
		if v2 {
			limit, rsvd = "hugetlb."+h.Pagesize+".max", "hugetlb."+h.Pagesize+".rsvd.max"
		}
		v := strconv.FormatUint(h.Limit, 10)
		if err := setFile(f+".limit", dir, limit, v); err != nil {
			return err
		}
		// The spec's limit is on reservations where the kernel has them
		// (Linux 5.7); limiting both keeps faults and reservations in line.
		if exists(dir, rsvd) {
			if err := setFile(f+".limit", dir, rsvd, v); err != nil {
				return err
			}
		}
	}
	return nil
}
