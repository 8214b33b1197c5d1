/**
 * `ablo dev`'s live view (ink), shown only on an interactive terminal:
 * where the engine runs, connections, commits per second, the last sync id,
 * recent commits, schema pushes, and a y/N question when a saved schema
 * change would lose data. `q` or Ctrl-C stops the engine.
 */
import { Box, Text, render, useInput } from 'ink';
import { useEffect, useState, type ReactNode } from 'react';
import { clock, type DevStore, type LogEntry } from './devStore.js';

interface Props {
  store: DevStore;
  onQuit: () => void;
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Box>
      <Box width={10}>
        <Text dimColor>{label}</Text>
      </Box>
      <Text>{children}</Text>
    </Box>
  );
}

function planColor(line: string): 'green' | 'red' | 'yellow' | undefined {
  if (line.startsWith('[safe]')) return 'green';
  if (line.startsWith('[destructive]')) return 'red';
  if (line.startsWith('[needs-data]')) return 'yellow';
  return undefined;
}

function LogLine({ entry }: { entry: LogEntry }) {
  const color = entry.level === 'error' ? 'red' : entry.level === 'warn' ? 'yellow' : undefined;
  return (
    <Box flexDirection="column">
      <Text>
        <Text dimColor>{clock(entry.at)} </Text>
        <Text color={color}>{entry.text}</Text>
      </Text>
      {(entry.detail ?? []).map((l, i) => (
        <Text key={i} color={planColor(l)} dimColor={!planColor(l)}>
          {'         '}
          {l}
        </Text>
      ))}
    </Box>
  );
}

export function DevView({ store, onQuit }: Props) {
  const [, setTick] = useState(0);
  useEffect(() => {
    const off = store.subscribe(() => setTick((t) => t + 1));
    const timer = setInterval(() => setTick((t) => t + 1), 1000);
    return () => {
      off();
      clearInterval(timer);
    };
  }, [store]);
  useInput((input, key) => {
    if (key.ctrl && input === 'c') return onQuit();
    const pending = store.state.pending;
    if (pending) {
      if (input === 'y' || input === 'Y') store.answer(true);
      else if (input === 'n' || input === 'N' || key.return || key.escape) store.answer(false);
      return;
    }
    if (input === 'q') onQuit();
  });

  const s = store.state;
  const h = s.header;
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold color="cyan">
          ablo dev
        </Text>
        <Text> ready at </Text>
        <Text bold>{h.url}</Text>
        <Text dimColor>
          {' '}
          · engine {h.version} · started in {h.readyMs} ms
        </Text>
      </Text>
      <Row label="api key">
        {h.apiKey} <Text dimColor>({h.keyFrom})</Text>
      </Row>
      <Row label="db">{h.db}</Row>
      <Row label="schema">
        {h.schemaFile} · version {s.schema.version} · {s.schema.models} model{s.schema.models === 1 ? '' : 's'} · {s.schema.hash.slice(0, 12) || 'none'}
      </Row>
      <Row label="mcp">{h.mcp}</Row>
      <Box marginTop={1}>
        <Text>
          <Text dimColor>connections </Text>
          <Text bold>{s.connections}</Text>
          <Text dimColor> · commits/s </Text>
          <Text bold>{store.rate().toFixed(1)}</Text>
          <Text dimColor> · last sync id </Text>
          <Text bold>{s.lastSyncId}</Text>
          <Text dimColor> · commits </Text>
          <Text bold>{s.totalCommits}</Text>
        </Text>
      </Box>
      <Box flexDirection="column" marginTop={1}>
        <Text dimColor>recent commits</Text>
        {s.recent.length === 0 ? <Text dimColor> (none yet)</Text> : null}
        {s.recent.map((c) => (
          <Text key={`${c.lastSyncId}-${c.at}`}>
            <Text dimColor>{clock(c.at)} </Text>
            {c.models.join(', ')}{' '}
            <Text dimColor>
              ({c.changes} change{c.changes === 1 ? '' : 's'}) · sync id {c.lastSyncId}
            </Text>
          </Text>
        ))}
      </Box>
      <Box flexDirection="column" marginTop={1}>
        <Text dimColor>claims{s.claims.length ? ` (${s.claims.length} held)` : ''}</Text>
        {s.claims.length === 0 ? <Text dimColor> (none)</Text> : null}
        {s.claims.slice(0, 6).map((c) => (
          <Text key={c.key}>
            <Text dimColor>{clock(c.since)} </Text>
            {c.key} <Text color="cyan">{c.holder}</Text>
            {c.action ? <Text dimColor> "{c.action}"</Text> : null}
            {c.waiting ? <Text color="yellow"> +{c.waiting} waiting</Text> : null}
          </Text>
        ))}
        {s.claims.length > 6 ? <Text dimColor> … {s.claims.length - 6} more</Text> : null}
      </Box>
      {s.log.length ? (
        <Box flexDirection="column" marginTop={1}>
          {s.log.map((e, i) => (
            <LogLine key={`${e.at}-${i}`} entry={e} />
          ))}
        </Box>
      ) : null}
      {s.pending ? (
        <Box flexDirection="column" marginTop={1} borderStyle="round" borderColor="yellow" paddingX={1}>
          {s.pending.lines.map((l, i) => (
            <Text key={i} color={planColor(l)}>
              {l}
            </Text>
          ))}
          <Text bold>{s.pending.question} [y/N]</Text>
        </Box>
      ) : null}
      <Box marginTop={1}>
        <Text dimColor>q or Ctrl-C to stop</Text>
      </Box>
    </Box>
  );
}

export interface MountedView {
  unmount(): void;
}

export function mountDevView(store: DevStore, onQuit: () => void): MountedView {
  const app = render(<DevView store={store} onQuit={onQuit} />, { exitOnCtrlC: false, patchConsole: false });
  return {
    unmount() {
      app.unmount();
    },
  };
}
