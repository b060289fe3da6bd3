package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// RegistryDir records, for every state root other than DefaultStateRoot,
// which root owns which nftables table (one file per table, holding the
// root's path), so that CollectOrphans can find kernel objects whose root
// was deleted (test roots, mostly). It lives in /run: it matters only as
// long as the kernel objects do.
var RegistryDir = "/run/berth-network/roots"

// register notes that m's kernel objects belong to its root.
func (m *Manager) register() error {
	if m.rootDir == DefaultStateRoot {
		return nil
	}
	p := filepath.Join(RegistryDir, m.table)
	if b, err := os.ReadFile(p); err == nil && string(b) == m.rootDir {
		return nil
	}
	if err := os.MkdirAll(RegistryDir, 0o700); err != nil {
		return fmt.Errorf("recording network state root: %w", err)
	}
	tmp := p + ".tmp-" + randHex(4)
	if err := os.WriteFile(tmp, []byte(m.rootDir), 0o600); err != nil {
		return fmt.Errorf("recording network state root: %w", err)
	}
	return os.Rename(tmp, p)
}

// CollectOrphans deletes the bridges and nftables tables of state roots that
// no longer exist on disk (a test's temporary root, a root removed by hand).
// Objects of roots that exist are never touched.
func CollectOrphans(ctx context.Context) error {
	ents, err := os.ReadDir(RegistryDir)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	var errs []error
	for _, e := range ents {
		table := e.Name()
		if strings.Contains(table, ".tmp-") || !strings.HasPrefix(table, "berth") {
			continue
		}
		p := filepath.Join(RegistryDir, table)
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		root := string(b)
		if !filepath.IsAbs(root) {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "networks")); !isNotExist(err) {
			continue
		}
		slog.Info("removing network objects of a deleted state root", "root", root, "table", table)
		k := &kernel{table: table}
		if err := k.collect(defaultBridgeFor(table)); err != nil {
			errs = append(errs, fmt.Errorf("cleaning up after deleted root %s: %w", root, err))
			continue
		}
		os.Remove(p)
	}
	return errors.Join(errs...)
}

// defaultBridgeFor is the default network's bridge for a derived table name.
func defaultBridgeFor(table string) string {
	return "berth" + strings.TrimPrefix(table, "berth-")
}
