// Command docker-compose is Docker Compose v2, built from the Go module proxy at the version pinned in go.mod.
//
// Why a wrapper module: the machines this project runs on reach the Go module proxy but not GitHub or Docker's
// download site, and Debian only packages Compose v1. Compose's own main package cannot be imported, so this file
// repeats its plugin entry point (cmd/main.go of github.com/docker/compose/v2 at the pinned tag) and nothing else.
// The version string is injected at link time (-X main.composeVersion=...) by tools/lab/src/compose.ts, which
// also passes it to compose's internal.Version so `docker compose version` tells the truth.
package main

import (
	"os"

	dockercli "github.com/docker/cli/cli"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	"github.com/docker/compose/v2/cmd/cmdtrace"
	"github.com/docker/compose/v2/cmd/compatibility"
	commands "github.com/docker/compose/v2/cmd/compose"
	"github.com/docker/compose/v2/cmd/prompt"
	"github.com/docker/compose/v2/pkg/compose"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// composeVersion is set at link time; "dev" means the binary was built by hand without the lab's flags.
var composeVersion = "dev"

func pluginMain() {
	plugin.Run(
		func(cli command.Cli) *cobra.Command {
			backend := compose.NewComposeService(cli,
				compose.WithPrompt(prompt.NewPrompt(cli.In(), cli.Out()).Confirm),
			)
			cmd := commands.RootCommand(cli, backend)
			originalPreRunE := cmd.PersistentPreRunE
			cmd.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
				if err := plugin.PersistentPreRunE(cmd, args); err != nil {
					return err
				}
				if err := cmdtrace.Setup(cmd, cli, os.Args[1:]); err != nil {
					logrus.Debugf("failed to enable tracing: %v", err)
				}
				if originalPreRunE != nil {
					return originalPreRunE(cmd, args)
				}
				return nil
			}
			cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
				return dockercli.StatusError{StatusCode: 1, Status: err.Error()}
			})
			return cmd
		},
		metadata.Metadata{
			SchemaVersion: "0.1.0",
			Vendor:        "Docker Inc.",
			Version:       composeVersion,
		},
		command.WithUserAgent("compose/"+composeVersion),
	)
}

func main() {
	if plugin.RunningStandalone() {
		os.Args = append([]string{"docker"}, compatibility.Convert(os.Args[1:])...)
	}
	pluginMain()
}
