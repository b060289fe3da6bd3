package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/credentials"
	"github.com/berth/berth/pkg/image"
)

// NewCmdPull is `berth pull NAME[:TAG|@DIGEST]` and `berth pull -a NAME`.
func NewCmdPull(opts *Options) *cobra.Command {
	var quiet, allTags bool
	var platform, creds string
	var tf tlsFlags
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Long: `Download an image, or with -a every tagged image of a repository.

Registries are reached as /etc/berth/daemon.json (env BERTH_CONFIG) says:
"registry-mirrors" are tried for Docker Hub images before Docker Hub,
"insecure-registries" may use plain HTTP or unverified TLS. Per-registry
CAs and client certificates come from /etc/containers/certs.d and
/etc/docker/certs.d (env BERTH_CERTS_D=DIR[:DIR...]) as <host:port>/*.crt,
client.cert and client.key. Credentials come from docker's config.json.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plat, err := image.ParsePlatform(platform)
			if err != nil {
				return usageError(cmd, err)
			}
			var repo, registry string
			if allTags {
				r, err := image.ParseRepository(args[0])
				if err != nil {
					return usageError(cmd, err)
				}
				repo, registry = image.RepoName(r), r.RegistryStr()
			} else {
				ref, err := image.ParseReference(args[0])
				if err != nil {
					return err
				}
				registry = ref.Context().RegistryStr()
			}
			if err := tf.apply(cmd, registry); err != nil {
				return err
			}
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			po := image.PullOptions{Platform: plat}
			if creds != "" {
				if po.Keychain, err = credentials.ParseCreds(creds); err != nil {
					return usageError(cmd, err)
				}
			}
			if !allTags {
				if !quiet && !strings.Contains(args[0], "@") && strings.LastIndex(args[0], ":") < strings.LastIndex(args[0], "/")+1 {
					fmt.Fprintln(out, "Using default tag: latest")
				}
				res, err := pullOne(cmd, st, args[0], po, quiet)
				if err != nil {
					return err
				}
				if !quiet {
					printPullStatus(out, res.Downloaded, res.Ref)
				}
				fmt.Fprintln(out, res.Ref)
				emitImageEvent(opts, "pull", res.Ref, image.Familiar(res.Ref))
				return nil
			}
			tags, err := st.ListTags(cmd.Context(), repo, po.RemoteOptions)
			if err != nil {
				return err
			}
			if len(tags) == 0 {
				return fmt.Errorf("pull --all-tags %s: the repository has no tags", image.Familiar(repo))
			}
			downloaded := false
			for _, tag := range tags {
				res, err := pullOne(cmd, st, repo+":"+tag, po, quiet)
				if err != nil {
					return err
				}
				downloaded = downloaded || res.Downloaded
				emitImageEvent(opts, "pull", res.Ref, image.Familiar(res.Ref))
			}
			if !quiet {
				printPullStatus(out, downloaded, repo)
			}
			fmt.Fprintln(out, repo)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image reference")
	cmd.Flags().StringVar(&platform, "platform", "", "pick this os/arch[/variant] from a multi-platform image")
	cmd.Flags().BoolVarP(&allTags, "all-tags", "a", false, "download every tagged image of the repository")
	cmd.Flags().StringVar(&creds, "creds", "", "USERNAME:PASSWORD for the registry, for this pull only (podman's flag)")
	tf.register(cmd)
	return cmd
}

// tlsFlags are podman's per-command TLS flags.
type tlsFlags struct {
	certDir   string
	tlsVerify bool
}

func (f *tlsFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.certDir, "cert-dir", "", "use the CA (*.crt) and client certificate (*.cert, *.key) files in this directory for the registry")
	cmd.Flags().BoolVar(&f.tlsVerify, "tls-verify", true, "verify the registry's certificate and require TLS (false: as an insecure registry)")
}

// apply makes the flags given part of the registry settings for registry.
func (f *tlsFlags) apply(cmd *cobra.Command, registry string) error {
	if f.certDir == "" && !cmd.Flags().Changed("tls-verify") {
		return nil
	}
	cfg, err := image.Registries()
	if err != nil {
		return err
	}
	cfg, err = cfg.ForRegistry(registry, f.certDir, !f.tlsVerify)
	if err != nil {
		return usageError(cmd, err)
	}
	return image.SetRegistries(cfg)
}

// pullOne pulls ref with docker's progress lines unless quiet.
func pullOne(cmd *cobra.Command, st *image.Store, ref string, po image.PullOptions, quiet bool) (*image.PullResult, error) {
	out := cmd.OutOrStdout()
	var prog *imgProgress
	if !quiet {
		canon, err := image.Normalize(ref)
		if err != nil {
			return nil, err
		}
		repo, tag := splitCanon(canon)
		fmt.Fprintf(out, "%s: Pulling from %s\n", tag, image.Familiar(repo))
		prog = newImgProgress(out)
		po.Progress = prog.update
	}
	res, err := st.Pull(cmd.Context(), ref, po)
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		return nil, err
	}
	if !quiet {
		fmt.Fprintf(out, "Digest: %s\n", res.Digest)
	}
	return res, nil
}

func printPullStatus(out io.Writer, downloaded bool, ref string) {
	if downloaded {
		fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", image.Familiar(ref))
	} else {
		fmt.Fprintf(out, "Status: Image is up to date for %s\n", image.Familiar(ref))
	}
}

// splitCanon splits a canonical reference into repository and tag or digest.
func splitCanon(canon string) (repo, tag string) {
	if i := strings.Index(canon, "@"); i >= 0 {
		return canon[:i], canon[i+1:]
	}
	i := strings.LastIndex(canon, ":")
	return canon[:i], canon[i+1:]
}
