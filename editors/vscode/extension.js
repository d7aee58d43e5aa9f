// The VS Code client of `specc lsp`: starts the language server on stdio for .spec files.
// The command is a setting (specc.server.command), so that a project's .venv/bin/specc works;
// changing it restarts the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function createClient() {
  const config = vscode.workspace.getConfiguration("specc");
  const serverOptions = {
    command: config.get("server.command", "specc"),
    args: config.get("server.args", ["lsp"]),
    transport: TransportKind.stdio,
  };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "specc" },
      { scheme: "untitled", language: "specc" },
    ],
  };
  return new LanguageClient("specc", "specc language server", serverOptions, clientOptions);
}

async function activate(context) {
  client = createClient();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration("specc.server")) {
        return;
      }
      await client.stop();
      client = createClient();
      await client.start();
    })
  );
  await client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
