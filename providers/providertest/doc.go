// Package providertest is the contract every providers.Provider must pass.
//
// A provider's test calls Run with a function that builds a fresh Env per
// case: the Provider under test and a Cloud, the hooks the suite needs to look
// at the cloud without going through the provider (list what exists, plant a
// resource the provider does not own).
//
// What every provider must do, beyond creating, updating and deleting what it
// owns: accept every valid model within the Capabilities it declares
// (AcceptsValidModels builds one per feature it declares), and, when its
// cloud refuses a model, say which elements it refused in a
// *providers.InvalidError (RefusalNamesTheElement), so that the reconciler
// can leave out the routes behind them and apply the rest.
//
// Rules of this package: cases assert the final state of the cloud, never the
// order or number of API calls, so that any correct adapter passes; and the
// suite imports only mapping/lb, providers and the standard library, so that
// every provider can use it.
package providertest
