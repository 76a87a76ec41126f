import { mount, tick } from 'svelte';
import './app.css';
import App from './App.svelte';
import { Workspace } from './lib/app/workspace.svelte';
import { installPerfProbe, markInteractiveAfterPaint } from './lib/app/frames';
import { inShell, tauriBackend } from './lib/backend/tauri';

// Outside the desktop shell (the plain `npm run dev` page in a browser) the UI runs on a
// simulated server, to be looked at and screenshotted. Never in a build.
const backend =
  import.meta.env.DEV && !inShell()
    ? (await import('./lib/backend/demo')).demoBackend(new URLSearchParams(location.search))
    : tauriBackend();
const workspace = new Workspace(backend);
installPerfProbe(() => workspace.focused?.monitor.buffered ?? {});
const started = workspace.start();
mount(App, { target: document.getElementById('app')!, props: { workspace } });
// The first server's lobby is shown once the shell has said which server that is.
await workspace.shown;
await tick();
if (document.querySelector('[data-testid="composer"]')) markInteractiveAfterPaint();
await started;
// Dev screenshots: `?view=orders` opens that channel's monitor.
const devView = import.meta.env.DEV ? new URLSearchParams(location.search).get('view') : null;
if (devView) workspace.focused?.open({ kind: 'channel', name: devView });
