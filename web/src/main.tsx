import { render } from "preact";
import { App } from "./components/App";
import { resumeSession } from "./chat";
import "./styles.css";

resumeSession();
render(<App />, document.getElementById("app")!);
