import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { App } from './App';
import { parseLocation } from './router';
import { sectionById, SECTIONS } from './sections';

// The section the page opens on loads while the shell checks who is signed in.
void (sectionById(parseLocation(window.location.href).section) ?? SECTIONS[0]).preload();

const root = document.getElementById('root');
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
