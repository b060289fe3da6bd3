// Package diskusage measures what `system df` reports: the disk used by
// images, containers' writable layers, local volumes and the build cache,
// each with how much of it is in use and how much could be reclaimed.
//
// Bytes are counted once: a layer (its blob and its unpacked snapshot)
// that an image uses is the images'; one that only build cache entries
// use is the build cache's; one nobody uses is reclaimable image space.
package diskusage

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/content"
	"github.com/berth/berth/pkg/image"
	"github.com/berth/berth/pkg/volume"
)

// Container is what Measure needs to know about a container.
type Container struct {
	ID, Name string
	// ImageID is the digest of the container's image config.
	ImageID string
	// Image is the image reference it was created from.
	Image   string
	Command string
	Created time.Time
	Status  string
	Running bool
	// Volumes are the names of the volumes it mounts.
	Volumes []string
}

// Sources are where Measure looks.
type Sources struct {
	Images *image.Store
	// Volumes may be nil (no volumes).
	Volumes *volume.Store
	// BuildCache is the build cache directory ("" for none).
	BuildCache string
	// Containers are every container, running or not.
	Containers []Container
}

// Row is one line of the summary.
type Row struct {
	Type        string
	Total       int
	Active      int
	Size        int64
	Reclaimable int64
}

// ImageUsage is one image in the verbose view.
type ImageUsage struct {
	Image *image.Image
	// Size is the unpacked size of its layers; SharedSize the part other
	// images share; UniqueSize the rest.
	Size, SharedSize, UniqueSize int64
	Containers                   int
}

// ContainerUsage is one container in the verbose view.
type ContainerUsage struct {
	Container
	// Size is its writable layer's bytes.
	Size int64
}

// VolumeUsage is one volume in the verbose view.
type VolumeUsage struct {
	Volume *volume.Volume
	// Links counts the containers that mount it.
	Links int
	Size  int64
}

// CacheUsage is one build cache entry in the verbose view.
type CacheUsage struct {
	ID      string
	Size    int64
	Created time.Time
	// Shared is true when an image uses the entry's layers too (their
	// bytes are then counted with the images).
	Shared bool
}

// Report is the measurement.
type Report struct {
	Images     []ImageUsage
	Containers []ContainerUsage
	Volumes    []VolumeUsage
	BuildCache []CacheUsage
	// Summary has the rows Images, Containers, Local Volumes, Build Cache.
	Summary []Row
}

// cacheEntry is the part of a build cache entry (pkg/build) that names
// layers.
type cacheEntry struct {
	Layers []struct {
		Digest  digest.Digest `json:"digest"`
		ChainID digest.Digest `json:"chainID"`
	} `json:"layers"`
}

// Measure walks the sources and adds up their disk usage.
func Measure(ctx context.Context, src Sources) (*Report, error) {
	st := src.Images
	imgs, err := st.List(ctx)
	if err != nil {
		return nil, err
	}
	snaps, err := st.Snapshots().List()
	if err != nil {
		return nil, err
	}
	snapSize := map[digest.Digest]int64{}
	for _, s := range snaps {
		snapSize[s.ChainID] = s.Size
	}
	blobSize := map[digest.Digest]int64{}
	if err := st.Content().Walk(func(i content.Info) error {
		blobSize[i.Digest] = i.Size
		return nil
	}); err != nil {
		return nil, err
	}

	usedBy := map[string]int{} // image ID -> containers
	for _, c := range src.Containers {
		usedBy[c.ImageID]++
	}
	// Which images use each object; which objects active images use.
	users := map[digest.Digest]int{}
	activeObj := map[digest.Digest]bool{}
	objects := func(img *image.Image) []digest.Digest {
		out := []digest.Digest{img.ID, img.Manifest}
		for _, l := range img.Layers {
			out = append(out, l.Digest, l.ChainID)
		}
		return out
	}
	rep := &Report{}
	imgRow := Row{Type: "Images", Total: len(imgs)}
	for _, img := range imgs {
		seen := map[digest.Digest]bool{}
		active := usedBy[img.ID.String()] > 0 || len(st.Holders(img.ID)) > 0
		if active {
			imgRow.Active++
		}
		for _, o := range objects(img) {
			if !seen[o] {
				seen[o] = true
				users[o]++
			}
			if active {
				activeObj[o] = true
			}
		}
	}
	for _, img := range imgs {
		u := ImageUsage{Image: img, Containers: usedBy[img.ID.String()]}
		seen := map[digest.Digest]bool{}
		for _, l := range img.Layers {
			if seen[l.ChainID] {
				continue
			}
			seen[l.ChainID] = true
			n := snapSize[l.ChainID]
			u.Size += n
			if users[l.ChainID] > 1 {
				u.SharedSize += n
			}
		}
		u.UniqueSize = u.Size - u.SharedSize
		rep.Images = append(rep.Images, u)
	}

	// Build cache: entries, and the objects only they use.
	cacheRow := Row{Type: "Build Cache"}
	cacheObj := map[digest.Digest]bool{}
	if src.BuildCache != "" {
		files, _ := filepath.Glob(filepath.Join(src.BuildCache, "*.json"))
		sort.Strings(files)
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				continue
			}
			cu := CacheUsage{ID: strings.TrimSuffix(filepath.Base(f), ".json"), Size: fi.Size(), Created: fi.ModTime()}
			var e cacheEntry
			if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &e) == nil {
				for _, l := range e.Layers {
					for _, o := range []digest.Digest{l.Digest, l.ChainID} {
						if users[o] > 0 {
							cu.Shared = true
							continue
						}
						if !cacheObj[o] {
							cacheObj[o] = true
							cu.Size += snapSize[o] + blobSize[o]
						}
					}
				}
			}
			cacheRow.Total++
			cacheRow.Size += cu.Size
			rep.BuildCache = append(rep.BuildCache, cu)
		}
		// Between builds nothing holds an entry: builder prune may drop all.
		cacheRow.Reclaimable = cacheRow.Size
	}

	for chain, n := range snapSize {
		if cacheObj[chain] {
			continue
		}
		imgRow.Size += n
		if !activeObj[chain] {
			imgRow.Reclaimable += n
		}
	}
	for d, n := range blobSize {
		if cacheObj[d] {
			continue
		}
		imgRow.Size += n
		if !activeObj[d] {
			imgRow.Reclaimable += n
		}
	}

	ctrRow := Row{Type: "Containers", Total: len(src.Containers)}
	links := map[string]int{}
	for _, c := range src.Containers {
		cu := ContainerUsage{Container: c}
		if dir, err := st.Snapshots().UpperDir(c.ID); err == nil {
			cu.Size = dirSize(dir)
		}
		ctrRow.Size += cu.Size
		if c.Running {
			ctrRow.Active++
		} else {
			ctrRow.Reclaimable += cu.Size
		}
		for _, v := range c.Volumes {
			links[v]++
		}
		rep.Containers = append(rep.Containers, cu)
	}

	volRow := Row{Type: "Local Volumes"}
	if src.Volumes != nil {
		vols, err := src.Volumes.List()
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			vu := VolumeUsage{Volume: v, Links: links[v.Name], Size: dirSize(v.Mountpoint)}
			volRow.Total++
			volRow.Size += vu.Size
			if vu.Links > 0 {
				volRow.Active++
			} else {
				volRow.Reclaimable += vu.Size
			}
			rep.Volumes = append(rep.Volumes, vu)
		}
	}
	rep.Summary = []Row{imgRow, ctrRow, volRow, cacheRow}
	return rep, nil
}
