import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { loadSession, makeClient, signedInUser } from './client.js';
import './styles.css';

const root = createRoot(document.getElementById('root')!);
const user = signedInUser();

if (!user) {
  root.render(
    <StrictMode>
      <SignIn />
    </StrictMode>,
  );
} else {
  loadSession(user).then(
    (session) => {
      const ablo = makeClient(session);
      root.render(
        <StrictMode>
          <App ablo={ablo} session={session} />
        </StrictMode>,
      );
    },
    (err: Error) => root.render(<p className="error">Could not load the app's config: {err.message}</p>),
  );
}

/** "Signing in" for the example: a name in the URL. */
function SignIn() {
  const [name, setName] = useState('');
  return (
    <form
      className="sign-in"
      onSubmit={(e) => {
        e.preventDefault();
        const params = new URLSearchParams(location.search);
        params.set('user', name.trim());
        location.search = params.toString();
      }}
    >
      <h1>Ablo board</h1>
      <label>
        Your name <input data-testid="sign-in-name" value={name} onChange={(e) => setName(e.target.value)} pattern="[A-Za-z0-9_.\-]{1,40}" required autoFocus />
      </label>
      <button type="submit">Open the board</button>
    </form>
  );
}
