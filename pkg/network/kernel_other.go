//go:build !linux

package network

import (
	"fmt"
	"net/netip"

	"github.com/berth/berth/pkg/errdefs"
)

// kernel is Linux-only; elsewhere every kernel operation says so.
type kernel struct{ table string }

var errNoKernel = fmt.Errorf("container networking needs Linux: %w", errdefs.ErrNotImplemented)

func (k *kernel) routedPrefixes() ([]netip.Prefix, error)          { return nil, errNoKernel }
func (k *kernel) ensureNetwork(*Network) (bridge, error)           { return bridge{}, errNoKernel }
func (k *kernel) readyBridge(*Network, int) (bridge, bool)         { return bridge{}, false }
func (k *kernel) removeNetwork(*Network) error                     { return errNoKernel }
func (k *kernel) attach(*Network, bridge, *endpoint) error         { return errNoKernel }
func (k *kernel) detach(*Network, *endpoint, bool) error           { return errNoKernel }
func (k *kernel) netnsID(string) (uint64, uint64, error)           { return 0, 0, errNoKernel }
func (k *kernel) netnsAlive(string, uint64, uint64) bool           { return false }
func (k *kernel) deleteStrayVeths(*Network, map[string]bool) error { return errNoKernel }
func (k *kernel) destroy() error                                   { return errNoKernel }

func (k *kernel) collect(string) error            { return errNoKernel }
func (k *kernel) checkSubnet6Free(*Network) error { return errNoKernel }
