// Package teav1 is a compile-only stand-in for github.com/vito/tuist/teav1 (tuist's adapter for bubbletea v1
// models, used by the Dagger CLI's interactive prompts); see ../tuist.go for why and what it means at run time.
package teav1

import (
	tea "github.com/charmbracelet/bubbletea"
	"github.com/vito/tuist"
)

// Wrap hosts a bubbletea model as a tuist component.
type Wrap struct {
	tuist.Compo
	model tea.Model
}

func New(model tea.Model) *Wrap         { return &Wrap{model: model} }
func (w *Wrap) Render(tuist.Context) {}
func (w *Wrap) OnQuit(func())        {}
