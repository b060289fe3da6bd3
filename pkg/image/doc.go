// Package image is berth's image store: named references to images whose
// manifests, configs and layer blobs live in the content store (package
// content) and whose layers are unpacked once each in the snapshot store
// (package snapshot), shared by every image that has them.
//
// # Layout
//
// Under berth's --root (ROOT):
//
//	ROOT/content/          blobs by digest (package content)
//	ROOT/snapshots/        unpacked layers by chain ID, containers' writable layers (package snapshot)
//	ROOT/image/images/     one record per image, <config hex>.json
//	ROOT/image/refs.json   name:tag and name@digest -> image ID
//	ROOT/image/users/      <image hex>/<holder>: who uses an image (containers)
//	ROOT/image/*.lock      flock(2) files
//
// # Using the store (engine, builder)
//
//	st, _ := image.Open(root)
//	img, _ := st.Resolve(ctx, "busybox")          // name[:tag], name@digest, ID, short ID
//	img.Config                                    // *v1.ConfigFile (Env, Cmd, Healthcheck, ...)
//	mounts, _ := st.Snapshots().Prepare(ctx, containerID, img.ChainID)
//	snapshot.MountAll(mounts, rootfs)
//	st.Hold(ctx, img.ID, containerID)             // rmi refuses while held
//
// The builder writes layers with Snapshots().Prepare / Commit and then
// Create(ctx, cfg, layers, names...); it holds a Lease for the whole build
// so that a concurrent rmi or prune does not collect its new layers before
// the image that names them exists.
//
// # Crash safety
//
// Every step of a pull, load, import or commit writes whole objects
// atomically (temp file or directory, fsync, rename), blobs and layers
// before the image record, the record before the names. A process killed
// at any point leaves unreferenced objects at worst; temporary files are
// cleared by Open, and a removal interrupted half-way is finished by the
// next Open (a "gc-pending" marker).
//
// Garbage collection (after rmi, in prune) takes an exclusive lock that
// every writer (pull, load, import, Lease) holds shared; when a writer is
// busy the sweep is left for later rather than waited for.
package image
