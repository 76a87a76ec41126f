import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { Session } from './lib/app/session.svelte';
import { installPerfProbe, markInteractiveAfterPaint } from './lib/app/frames';
import { useDemoOutsideShell } from './lib/backend';

await useDemoOutsideShell();
const session = new Session();
installPerfProbe(() => session.monitor.buffered);
const started = session.start();
mount(App, { target: document.getElementById('app')!, props: { session } });
if (document.querySelector('[data-testid="composer"]')) markInteractiveAfterPaint();
await started;
// Dev screenshots: `?view=orders` opens that channel's monitor.
const devView = import.meta.env.DEV ? new URLSearchParams(location.search).get('view') : null;
if (devView) session.open({ kind: 'channel', name: devView });
