// Package lbtest helps tests hold code that is written field by field
// for speed (a comparison, an encoding of the model) to every field of the
// lb model, so that a field added to the model cannot go unnoticed there.
package lbtest
