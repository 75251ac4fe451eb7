// The browser app's entry: start the page host with the route table. Pages live in src/pages, the frame in src/ui.
import "./styles.css";
import { notFoundPage } from "./pages/notFound";
import { routes } from "./pages/routes";
import { startApp } from "./ui/app";

const root = document.getElementById("app");
if (root) startApp(root, routes, notFoundPage);
